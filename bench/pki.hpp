// The certificates every contender enrolls: an RSA-4096 root (the sandbox's
// builtin anchor), an RSA-4096 intermediate (enrolled into secondary) and N
// distinct signing leaves it issued, P-256 and RSA-2048 keys alternating.
// Made in process with OpenSSL once per run and kept as DER files in a
// folder, because the per-file contenders (anchorctl, keyctl, evmctl) read
// files.
#pragma once

#include <cstddef>
#include <filesystem>
#include <vector>

#include "anchord/types.hpp"

namespace anchord::bench {

struct CertSet {
    std::filesystem::path dir;
    Bytes root;
    Bytes intermediate;
    std::filesystem::path intermediate_file;
    std::vector<Bytes> leaves;  // DER, leaves[i] is leaf_files[i]
    std::vector<std::filesystem::path> leaf_files;
    std::size_t p256 = 0;
    std::size_t rsa2048 = 0;
    bool reused = false;  // read back from `dir` rather than generated
};

// Reads the first `n` leaves from `dir` when a previous run left a complete
// set of at least `n` that is still young enough (reused for 360 days of
// its 400); otherwise generates it there with
// `threads` threads (the RSA key generation dominates). Throws
// std::runtime_error when the folder cannot be written or read.
CertSet load_or_generate(const std::filesystem::path& dir, std::size_t n, unsigned threads);

// One PEM bundle of leaves[first, first + count).
Bytes pem_bundle(const CertSet& set, std::size_t first, std::size_t count);

}  // namespace anchord::bench
