"""``ipamctl sandbox serve``: the sandbox cloud over Alibaba Cloud's HTTP wire protocol, so the
unmodified official SDK clients (IPAM, VPC, ECS) drive it. A layer above ``cloud``: it may import
cloud, errors and net; nothing in cloud imports it.

Modules: :mod:`wire` (a request read into a call; the response bodies), :mod:`signature` (ACS3 and
v1 signature checks, nonces, the access key), :mod:`ram` (the RAM policy), :mod:`app` (the checks
in order, the shared sandbox, the call log), :mod:`server` (the HTTP server and the CLI's loop).
"""
