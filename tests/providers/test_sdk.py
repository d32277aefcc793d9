"""The SDK client's own logic (no server): the wire form to the SDK's models and back, the product
of each operation, refusals of what the SDK cannot send, and a connection that fails."""

from __future__ import annotations

import pytest

from reconciler.cloud.sandbox import OPERATIONS, load_operations
from reconciler.errors import CloudError
from reconciler.providers.sdk import PRODUCTS, SdkClient, SdkSettings, flat, nested, product_of, ram_action


def _client(endpoint: str = "127.0.0.1:9") -> SdkClient:
    from alibabacloud_credentials.client import Client
    from alibabacloud_credentials.models import Config

    cred = Client(Config(type="access_key", access_key_id="LTAIexample", access_key_secret="not-a-real-secret"))
    return SdkClient(SdkSettings(region="cn-hangzhou", endpoint=endpoint, protocol="http",
                                 connect_timeout_ms=500, read_timeout_ms=500), cred)


def test_nested_and_flat_are_inverse():
    wire = {"RegionId": "cn-hangzhou", "Tag.1.Key": "env", "Tag.1.Value": "prod", "Tag.2.Key": "team",
            "OperatingRegionList.1": "cn-hangzhou", "OperatingRegionList.2": "cn-shanghai",
            "OperatingRegionList.10": "cn-beijing"}
    got = nested(wire)
    assert got["Tag"] == [{"Key": "env", "Value": "prod"}, {"Key": "team"}]
    assert got["OperatingRegionList"][:2] == ["cn-hangzhou", "cn-shanghai"]
    assert got["OperatingRegionList"][9] == "cn-beijing"  # index 10, not the third item
    assert flat(got) == wire


def test_every_sandbox_operation_belongs_to_the_product_of_its_version():
    load_operations()
    versions = {product: version for product, (_pkg, version) in PRODUCTS.items()}
    for action, op in OPERATIONS.items():
        if action.startswith("Sandbox"):
            continue  # the sandbox's own (no SDK has them)
        assert versions[product_of(action)] == op.version, action
    assert ram_action("CreateIpam") == "vpc:CreateIpam"  # VpcIpam's RAM code is vpc
    assert ram_action("CreateVpc") == "vpc:CreateVpc"  # the ECS SDK has an old CreateVpc too
    assert ram_action("CreateNetworkInterface") == "ecs:CreateNetworkInterface"


def test_an_operation_no_sdk_has_is_refused():
    with pytest.raises(CloudError) as info:
        _client().call("SandboxRunDiscovery", {})
    assert info.value.code == "InvalidAction.NotFound"


def test_a_parameter_the_sdk_model_lacks_is_refused_not_dropped():
    with pytest.raises(CloudError) as info:
        _client().call("DescribeVpcs", {"RegionId": "cn-hangzhou", "VpcColour": "blue"})
    assert info.value.code == "Provider.UnknownParameter"
    assert "VpcColour" in info.value.detail


def test_a_request_model_keeps_lists_and_structs():
    request = _client()._request(PRODUCTS["vpc"][0], "CreateVpc", {
        "RegionId": "cn-hangzhou", "CidrBlock": "10.0.0.0/16", "Tag.1.Key": "env", "Tag.1.Value": "prod",
        "ClientToken": "t-1"})
    assert request.cidr_block == "10.0.0.0/16" and request.client_token == "t-1"
    assert [(t.key, t.value) for t in request.tag] == [("env", "prod")]


def test_a_client_token_is_left_out_where_the_api_has_none():
    # DeleteVSwitch takes no ClientToken in the cloud's API: sent without one rather than refused
    request = _client()._request(PRODUCTS["vpc"][0], "DeleteVSwitch", {"VSwitchId": "vsw-1", "ClientToken": "t"})
    assert request.v_switch_id == "vsw-1" and not hasattr(request, "client_token")


def test_no_server_is_a_clear_unreachable_error():
    with pytest.raises(CloudError) as info:
        _client("127.0.0.1:9").call("DescribeVpcs", {"RegionId": "cn-hangzhou"})
    err = info.value
    assert err.code == "Provider.Unreachable" and err.http_status == 503
    assert "127.0.0.1:9" in err.detail and "refused" in err.detail.lower()
    assert "not-a-real-secret" not in err.message
