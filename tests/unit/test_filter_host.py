import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.stackbench.cluster.plugins.filter.stackbench_host import has_capability

FULL = "Name:\tbash\nCapInh:\t0000000000000000\nCapBnd:\t000001ffffffffff\nCapEff:\t0000000000000000\n"
# The lab machine's bounding set: everything but CAP_SYS_RESOURCE (bit 24).
NO_SYS_RESOURCE = "CapBnd:\t000001fffeffffff\n"


def test_full_bounding_set_has_sys_resource():
    assert has_capability(FULL, "CAP_SYS_RESOURCE") is True


def test_missing_bit_is_reported():
    assert has_capability(NO_SYS_RESOURCE, "CAP_SYS_RESOURCE") is False
    assert has_capability(NO_SYS_RESOURCE, "CAP_SYS_ADMIN") is True


def test_other_fields_can_be_read():
    assert has_capability(FULL, "CAP_SYS_ADMIN", field="CapEff") is False


def test_unknown_capability_and_missing_field_are_errors():
    with pytest.raises(AnsibleFilterError, match="unknown capability"):
        has_capability(FULL, "CAP_FLY")
    with pytest.raises(AnsibleFilterError, match="no CapPrm line"):
        has_capability(FULL, "CAP_SYS_ADMIN", field="CapPrm")
