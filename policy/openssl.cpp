#include "anchord/openssl.hpp"

#include <openssl/err.h>

namespace anchord::ossl {

std::string drain_errors() {
    std::string out;
    char buf[256];
    while (unsigned long e = ERR_get_error()) {
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

}  // namespace anchord::ossl
