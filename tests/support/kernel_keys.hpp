// Reading the kernel's keyrings in tests with plain keyutils calls,
// independently of the code under test. Header-only: the test targets that
// use it link libkeyutils; the support library does not.
#pragma once

#include <keyutils.h>

#include <cstdlib>
#include <memory>
#include <vector>

namespace anchord::testing {

// The serials a keyring links; empty when the keyring does not exist or
// cannot be read (a process keyring not yet made answers ENOKEY).
inline std::vector<key_serial_t> ring_serials(key_serial_t ring) {
    void* raw = nullptr;
    long size = keyctl_read_alloc(ring, &raw);
    if (size < 0) return {};
    std::unique_ptr<void, decltype(&std::free)> owned(raw, &std::free);
    const auto* ids = static_cast<const key_serial_t*>(raw);
    return {ids, ids + static_cast<std::size_t>(size) / sizeof(key_serial_t)};
}

}  // namespace anchord::testing
