"""Guest configuration of an ENI's addresses, as the ECS guide describes it (the seed
``ecs-secondary-private-ips.zh.md``, "configure the assigned secondary private IPs inside the instance").

The guide gives one recipe per OS family: ifcfg-ethN:M files (RHEL, CentOS, Alibaba Cloud Linux), an
/etc/network/interfaces stanza per address (Debian, Ubuntu), IPADDR_N / NETMASK_N / LABEL_N lines in
ifcfg-ethN (SLES, openSUSE; NETMASK_N is the prefix length there), and, for Windows, the addresses and
the gateway added to the adapter (here as netsh commands). The netmask is the vSwitch's; the gateway is
the vSwitch's third-last address (x.x.x.253 in a /24), which the cloud keeps for it.

What is rendered, and why:

* Only an attached ENI: "如果操作对象为辅助弹性网卡，请确保先将辅助弹性网卡绑定至ECS实例" (a secondary ENI is
  attached to the instance before the guest is configured). An ENI with no instance is refused
  (``GuestConfig.EniNotAttached``†), naming it.
* The device: eth0 for the instance's primary ENI; a secondary ENI is its own interface ("以下步骤均以主弹性网卡
  eth0为操作示例，如果您使用的是辅助弹性网卡，请根据实际情况修改网卡标识符"), eth1, eth2, ... by its order on the
  instance. The state records no device index; the cloud numbers an instance's secondary ENIs in the order
  they are attached, and ipamctl attaches an instance's ENIs in one apply in address order (the plan's
  order), so the default is eth1... in address order of the instance's secondary ENIs. An ENI attached at
  another time or out of band may have another index: pass ``--device`` (the guest's ``ip -o link``
  shows each interface's MAC). A secondary ENI's own primary address is configured on the interface
  itself (no gateway: the default route stays on eth0), its secondary addresses as aliases.
* IPv4 prefixes: "After the IP prefix is assigned, configure secondary IP addresses on the ECS instance.
  For IPv4, see Secondary private IPs." (the IP prefixes seed): every address of each /28 is configured
  as a secondary address, after the secondary private IPs.
* IPv6 addresses: on the same interface with the vSwitch's IPv6 prefix length (/64); IPv6 prefixes (/80),
  whose addresses cannot be listed one by one, are routed to the interface as a local route (Linux:
  ``ip -6 route add local PREFIX dev ethN``, so the guest answers every address of it; Windows: an
  on-link route, to which the addresses the guest serves are added).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from reconciler.errors import ReconcilerError
from reconciler.net.cidr import Cidr, format_address

OS_FAMILIES = ("rhel", "debian", "sles", "windows")


@dataclass(frozen=True)
class GuestNetwork:
    device: str  # eth0 for an instance's primary ENI, eth1... for the others
    addresses: tuple[str, ...]  # secondary private IPv4 addresses, then the addresses of the IPv4 prefixes
    vswitch: Cidr
    primary_ip: str | None = None  # a secondary ENI's own address, configured on the interface itself
    ipv6_addresses: tuple[str, ...] = ()
    ipv6_prefixes: tuple[str, ...] = ()
    ipv6_vswitch: Cidr | None = None
    secondary_eni: bool = False

    @property
    def netmask(self) -> str:
        return self.vswitch.netmask

    @property
    def gateway(self) -> str:
        return format_address(4, self.vswitch.end - 2)

    @property
    def v6len(self) -> int:
        return self.ipv6_vswitch.prefix if self.ipv6_vswitch is not None else 64


def render(net: GuestNetwork, family: str, adapter: str = "Ethernet") -> str:
    if family not in OS_FAMILIES:
        raise ReconcilerError("Spec.InvalidValue", f"--os must be one of {', '.join(OS_FAMILIES)}")
    own = net.secondary_eni and net.primary_ip
    if not (net.addresses or own or net.ipv6_addresses or net.ipv6_prefixes):
        return f"# {net.device} has no secondary private address or prefix to configure\n"
    dev, v6 = net.device, net.v6len
    out: list[str]
    if family == "rhel":
        out = []
        if own or net.ipv6_addresses:
            out += [f"# /etc/sysconfig/network-scripts/ifcfg-{dev}", f"DEVICE={dev}", "TYPE=Ethernet"]
            if own:
                out += ["BOOTPROTO=static", "ONBOOT=yes", f"IPADDR={net.primary_ip}", f"NETMASK={net.netmask}",
                        "DEFROUTE=no"]
            if net.ipv6_addresses:
                first, *more = net.ipv6_addresses
                out += ["IPV6INIT=yes", f"IPV6ADDR={first}/{v6}"]
                if more:
                    out.append("IPV6ADDR_SECONDARIES=\"" + " ".join(f"{a}/{v6}" for a in more) + "\"")
            out.append("")
        for i, ip in enumerate(net.addresses):
            out += [f"# /etc/sysconfig/network-scripts/ifcfg-{dev}:{i}", f"DEVICE={dev}:{i}",
                    "TYPE=Ethernet", "BOOTPROTO=static", "ONBOOT=yes", f"IPADDR={ip}", f"NETMASK={net.netmask}",
                    f"GATEWAY={net.gateway}", ""]
        if net.ipv6_prefixes:
            out.append(f"# /etc/sysconfig/network-scripts/route6-{dev}")
            out += [f"local {p} dev {dev}" for p in net.ipv6_prefixes]
            out.append("")
        out.append("# then: systemctl restart network   (or: service network restart)")
    elif family == "debian":
        out = ["# /etc/network/interfaces"]
        if own:
            out += [f"auto {dev}", f"iface {dev} inet static", f"address {net.primary_ip}",
                    f"netmask {net.netmask}", ""]
        if net.ipv6_addresses or net.ipv6_prefixes:
            v6first = net.ipv6_addresses[0] if net.ipv6_addresses else None
            if not own:
                out.append(f"auto {dev}")
            if v6first:
                out += [f"iface {dev} inet6 static", f"address {v6first}/{v6}"]
            else:
                out.append(f"iface {dev} inet6 auto")
            out += [f"up ip -6 addr add {a}/{v6} dev {dev}" for a in net.ipv6_addresses[1:]]
            out += [f"up ip -6 route add local {p} dev {dev}" for p in net.ipv6_prefixes]
            out.append("")
        for i, ip in enumerate(net.addresses):
            out += [f"auto {dev}:{i}", f"iface {dev}:{i} inet static", f"address {ip}",
                    f"netmask {net.netmask}", f"gateway {net.gateway}", ""]
        out.append("# then: systemctl restart networking   (or: service networking restart)")
    elif family == "sles":
        out = [f"# /etc/sysconfig/network/ifcfg-{dev}"]
        if own:
            out += ["BOOTPROTO='static'", "STARTMODE='auto'", f"IPADDR='{net.primary_ip}/{net.vswitch.prefix}'", ""]
        for i, ip in enumerate(net.addresses):
            out += [f"IPADDR_{i}={ip}", f"NETMASK_{i}={net.vswitch.prefix}", f"LABEL_{i}='{i}'", ""]
        for j, a in enumerate(net.ipv6_addresses):
            out += [f"IPADDR_v6{j}='{a}/{v6}'", ""]
        if net.ipv6_prefixes:
            out.append(f"# /etc/sysconfig/network/ifroute-{dev}   (each IPv6 prefix routed to {dev} as local)")
            out += [f"{p} - - {dev} local" for p in net.ipv6_prefixes]
            out.append("")
        out.append("# then: systemctl restart network   (or: service network restart)")
    else:
        out = [f"REM Adapter \"{adapter}\": add each address with the vSwitch's mask, then the default gateway"]
        if own:
            out.append(f'netsh interface ipv4 set address name="{adapter}" static {net.primary_ip} {net.netmask}')
        out += [f'netsh interface ipv4 add address name="{adapter}" address={ip} mask={net.netmask}'
                for ip in net.addresses]
        if net.addresses and not net.secondary_eni:
            out.append(f'netsh interface ipv4 add address name="{adapter}" gateway={net.gateway} gwmetric=1')
        out += [f'netsh interface ipv6 add address interface="{adapter}" address={a}/{v6}'
                for a in net.ipv6_addresses]
        if net.ipv6_prefixes:
            out.append("REM IPv6 prefixes: routed on-link to the adapter; add the addresses the guest serves from "
                       "each with: netsh interface ipv6 add address")
            out += [f'netsh interface ipv6 add route prefix={p} interface="{adapter}" store=persistent'
                    for p in net.ipv6_prefixes]
    return "\n".join(out).rstrip() + "\n"


def guest_network(resources: Mapping[str, dict], address: str, device: str | None = None) -> GuestNetwork:
    """The guest view of the ENI at ``address`` in the recorded state (see the module doc)."""
    rec = resources.get(address)
    if rec is None or rec["type"] != "eni":
        raise ReconcilerError("State.NoSuchResource", f"{address} is not an ENI in the state (see `ipamctl state list`)",
                              address=address)
    a = rec["attributes"]
    primary = bool(a.get("primary"))
    instance = a.get("instance")
    if not instance or resources.get(f"instance.{instance}") is None:
        raise ReconcilerError(
            "GuestConfig.EniNotAttached",
            f"{address} ({rec.get('id') or 'not created yet'}) is not attached to an instance"
            + (f" in the state (instance.{instance} is not recorded)" if instance else "")
            + ": a secondary ENI is attached to its instance before the guest is configured. Give it "
            "`instance: NAME` in the specs and apply, then render its configuration", address=address)
    vsw = resources.get(f"vswitch.{a['vswitch']}")
    if vsw is None:
        raise ReconcilerError("State.NoSuchResource", f"vswitch.{a['vswitch']} is not in the state", address=address)
    if device is None:
        device = "eth0"
        if not primary:
            siblings = sorted(n for n, r in resources.items() if r["type"] == "eni" and not r["attributes"].get("primary")
                              and r["attributes"].get("instance") == instance)
            device = f"eth{siblings.index(address) + 1}"
    v4 = list(a.get("secondary_private_ips") or ())
    for prefix in a.get("ipv4_prefixes") or ():
        block = Cidr.parse(prefix)
        v4 += [format_address(4, block.start + i) for i in range(block.size)]
    v6_cidr = vsw["attributes"].get("ipv6_cidr")
    return GuestNetwork(device, tuple(v4), Cidr.parse(vsw["attributes"]["cidr"]),
                        primary_ip=None if primary else a.get("primary_ip"),
                        ipv6_addresses=tuple(a.get("ipv6_addresses") or ()),
                        ipv6_prefixes=tuple(a.get("ipv6_prefixes") or ()),
                        ipv6_vswitch=Cidr.parse(v6_cidr) if v6_cidr else None,
                        secondary_eni=not primary)
