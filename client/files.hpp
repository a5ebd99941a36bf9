// The FILE arguments of verify and enroll: anchorctl reads them itself
// (anchord never opens a path it is sent) and groups them into the bundles
// it sends.
//
// Grouping: when every FILE is PEM, their texts are joined into one PEM
// bundle and sent in one call, so an enroll of several files is all or
// nothing. Otherwise each FILE is its own call, in the order given. Either
// way the results are one per certificate in the order given, their index
// counting on across files.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "anchord/types.hpp"
#include "model.hpp"

namespace anchorctl {

// Larger than any bundle anchord takes; the bound only keeps a mistaken
// argument (a disk image) from filling memory.
inline constexpr std::size_t kMaxInputBytes = 64u * 1024u * 1024u;

struct InputFile {
    std::string name;  // as given; "-" for standard input
    anchord::Bytes bytes;
};

// Reads every FILE; "-" (at most once) reads `standard_input`. Throws
// Failure (exit 1, anchorctl.Error.File) naming the file that cannot be read.
std::vector<InputFile> read_inputs(const std::vector<std::string>& names,
                                   std::istream& standard_input);

// PEM: the first thing after any blank is a "-----BEGIN " line.
bool looks_like_pem(anchord::ByteView bytes) noexcept;

struct Bundle {
    anchord::Bytes bytes;
    std::vector<std::string> files;  // the FILEs joined into it, in order
    // Per file, the PEM certificate blocks counted in it; empty for one file.
    std::vector<std::size_t> certificates_per_file;
};

std::vector<Bundle> make_bundles(std::vector<InputFile> inputs);

// Numbers a bundle's results from `first_index` on, keeping anchord's order,
// and names the FILE each came from when that is certain.
void attribute(std::vector<CertificateResult>& results, const Bundle& bundle,
               std::uint32_t first_index);

}  // namespace anchorctl
