// anchord_idle_floor: the memory floor of bench/README.md. A process that
// loads the libraries anchord loads (sdbus-c++, libsystemd, OpenSSL,
// libkeyutils, libstdc++) and does the least anchord must do before it can
// serve: connect to the bus, read its anchor certificate with OpenSSL, look
// at its keyring. Then it says READY=1 and idles until SIGTERM. Its
// resident set is what any daemon built on these libraries starts from.
//
// It takes anchord's command line (bench/process.cpp starts it the same
// way) and uses --bus-address and --sandbox of it.
#include <keyutils.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <systemd/sd-daemon.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "anchord/openssl.hpp"
#include "anchord/sdbus.hpp"

namespace {

std::string option(int argc, char** argv, const std::string& name) {
    for (int i = 1; i + 1 < argc; ++i) {
        if (argv[i] == name) return argv[i + 1];
    }
    return {};
}

// The first certificate of the anchors folder, read as anchord reads its
// anchors: decoded, and its SHA-256 fingerprint taken.
bool read_anchor(const std::filesystem::path& dir) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(entry.path(), std::ios::binary);
        const std::vector<unsigned char> der((std::istreambuf_iterator<char>(in)), {});
        const unsigned char* p = der.data();
        anchord::ossl::X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
        if (!x509) continue;
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int size = 0;
        return X509_digest(x509.get(), EVP_sha256(), digest, &size) == 1;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string address = option(argc, argv, "--bus-address");
    const std::string anchors = option(argc, argv, "--sandbox");
    if (address.empty() || anchors.empty()) {
        std::fprintf(stderr, "usage: anchord_idle_floor --bus-address ADDRESS --sandbox DIR ...\n");
        return 2;
    }
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, nullptr);

    auto connection = sdbus::createSessionBusConnectionWithAddress(address);
    if (!read_anchor(anchors)) {
        std::fprintf(stderr, "anchord_idle_floor: no certificate read from %s\n", anchors.c_str());
        return 1;
    }
    void* read = nullptr;
    const long got = keyctl_read_alloc(KEY_SPEC_SESSION_KEYRING, &read);
    const std::unique_ptr<void, decltype(&std::free)> ring(got >= 0 ? read : nullptr, &std::free);
    sd_notify(0, "READY=1");

    int signal = 0;
    sigwait(&stop, &signal);
    return 0;
}
