"""Kernel symbols read from Debian's kernels themselves (kallsyms)."""

import pytest

from avocado_rr import assets, ksyms, targets


#: where each arch's kernel text is linked (s390x: at its no-KASLR load
#: address, 1 MiB)
KERNEL_SPACE = {"x86_64": 0xffffffff80000000, "aarch64": 0xffff800000000000,
                "ppc64": 0xc000000000000000, "s390x": 0x100000}


@pytest.mark.parametrize("arch", sorted(KERNEL_SPACE))
def test_the_suites_kernels_name_their_functions(arch, tmp_path):
    row = targets.target(arch)
    kernel = assets.resolve_asset(row.kernel_asset)
    symbols = ksyms.kernel_symbols(kernel, row.bits, tmp_path,
                                   row.kallsyms_base)
    assert len(symbols) > 30000
    # functions the reverse-debugging cases break at, in kernel space
    # and in the order they are linked in
    addresses = [ksyms.address(symbols, name) for name in
                 ("kernel_init", "start_kernel")]
    assert addresses[0] >= KERNEL_SPACE[arch], [hex(a) for a in addresses]
    assert addresses == sorted(addresses), [hex(a) for a in addresses]
    # the cache answers the second time, the same
    assert ksyms.kernel_symbols(kernel, row.bits, tmp_path,
                                row.kallsyms_base) == symbols
    assert len(list(tmp_path.glob("*.json"))) == 1


def test_a_missing_symbol_is_a_clear_error(tmp_path):
    with pytest.raises(ksyms.SymbolError, match="no symbol 'no_such'"):
        ksyms.address({"a": 1}, "no_such")
    not_a_kernel = tmp_path / "vmlinuz"
    not_a_kernel.write_bytes(b"\0" * 4096)
    with pytest.raises(ksyms.SymbolError, match="no symbol table found"):
        ksyms.read_symbols(not_a_kernel, 64)
