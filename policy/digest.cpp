// The one function of types.hpp that needs libcrypto, in a file of its own:
// anchorctl uses the rest (parsing and printing fingerprints) and computes
// no digest, so it links no libcrypto, whose loading was a fifth of a
// one-file `anchorctl enroll`.
#include <openssl/sha.h>

#include "anchord/types.hpp"

namespace anchord {

Sha256 Sha256::of(ByteView data) {
    Sha256 d;
    SHA256(data.data(), data.size(), d.bytes.data());
    return d;
}

}  // namespace anchord
