"""Kernel symbols read from Debian's kernels themselves (kallsyms)."""

import pytest

from avocado_rr import assets, ksyms, targets


@pytest.mark.parametrize("arch", ["x86_64", "aarch64", "ppc64"])
def test_the_suites_kernels_name_their_functions(arch, tmp_path):
    row = targets.target(arch)
    kernel = assets.resolve_asset(row.kernel_asset)
    symbols = ksyms.kernel_symbols(kernel, row.bits, tmp_path)
    assert len(symbols) > 30000
    # functions the reverse-debugging cases break at, in kernel space
    for name in ("start_kernel", "kernel_init", "do_timer"):
        address = ksyms.address(symbols, name)
        assert address >= 0xc0000000 if row.bits == 32 else \
            address >= 0xc000000000000000, (name, hex(address))
    # the cache answers the second time, the same
    assert ksyms.kernel_symbols(kernel, row.bits, tmp_path) == symbols
    assert len(list(tmp_path.glob("*.json"))) == 1


def test_a_missing_symbol_is_a_clear_error(tmp_path):
    with pytest.raises(ksyms.SymbolError, match="no symbol 'no_such'"):
        ksyms.address({"a": 1}, "no_such")
    not_a_kernel = tmp_path / "vmlinuz"
    not_a_kernel.write_bytes(b"\0" * 4096)
    with pytest.raises(ksyms.SymbolError, match="no symbol table found"):
        ksyms.read_symbols(not_a_kernel, 64)
