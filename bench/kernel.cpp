#include "kernel.hpp"

#include <fcntl.h>
#include <keyutils.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "anchord/certificate.hpp"

namespace anchord::bench {
namespace {

keyring::Keyrings make_sandbox(const CertSet& set, bool with_intermediate) {
    auto keyrings = keyring::Keyrings::sandbox({parse_der_certificate(set.root)});
    if (with_intermediate) keyrings.add(LogicalKeyring::Secondary, set.intermediate);
    return keyrings;
}

std::runtime_error kernel_failure(const std::string& what, int err) {
    return std::runtime_error(what + ": " + std::strerror(err));
}

}  // namespace

Sandbox::Sandbox(const CertSet& set, bool with_intermediate)
    : keyrings_(make_sandbox(set, with_intermediate)) {}

KeySerial Sandbox::ima() const {
    return *keyrings_.location(LogicalKeyring::Ima).serial;
}
KeySerial Sandbox::secondary() const {
    return *keyrings_.location(LogicalKeyring::Secondary).serial;
}

void add_key(KeySerial ring, const Bytes& der) {
    if (::add_key("asymmetric", nullptr, der.data(), der.size(), ring.value) < 0) {
        throw kernel_failure("add_key into keyring " + std::to_string(ring.value), errno);
    }
}

void add_keys(KeySerial ring, const std::vector<Bytes>& ders, std::size_t count) {
    for (std::size_t i = 0; i < count && i < ders.size(); ++i) {
        if (::add_key("asymmetric", nullptr, ders[i].data(), ders[i].size(), ring.value) < 0) {
            throw kernel_failure("add_key of leaf " + std::to_string(i) + " into keyring " +
                                     std::to_string(ring.value),
                                 errno);
        }
    }
}

std::vector<std::int32_t> ring_serials(KeySerial ring) {
    void* raw = nullptr;
    long size = keyctl_read_alloc(ring.value, &raw);
    if (size < 0) throw kernel_failure("keyctl read " + std::to_string(ring.value), errno);
    std::unique_ptr<void, decltype(&std::free)> owned(raw, &std::free);
    const auto* ids = static_cast<const std::int32_t*>(raw);
    return {ids, ids + static_cast<std::size_t>(size) / sizeof(std::int32_t)};
}

std::size_t list_and_describe(KeySerial ring) {
    std::size_t described = 0;
    for (auto serial : ring_serials(ring)) {
        char* text = nullptr;
        if (keyctl_describe_alloc(serial, &text) >= 0) {
            std::free(text);
            ++described;
        }
    }
    return described;
}

std::size_t read_proc_keys(std::string& buffer) {
    int fd = ::open("/proc/keys", O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw kernel_failure("open /proc/keys", errno);
    std::size_t used = 0;
    for (;;) {
        if (buffer.size() - used < 65536) buffer.resize(buffer.size() + 262144);
        ssize_t n = ::read(fd, buffer.data() + used, buffer.size() - used);
        if (n < 0) {
            int err = errno;
            ::close(fd);
            throw kernel_failure("read /proc/keys", err);
        }
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    ::close(fd);
    return used;
}

}  // namespace anchord::bench
