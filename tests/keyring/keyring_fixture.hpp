// Shared pieces of the keyring tests: every test runs in a fresh anonymous
// session keyring of its own, and reads the kernel's keyrings with plain
// keyutils calls, independently of the code under test.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <keyutils.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/policy.hpp"
#include "kernel_keys.hpp"
#include "keyring/keyring.hpp"
#include "keyring/keyrings.hpp"
#include "test_pki.hpp"

namespace anchord::keyring::test {

class KeyringTest : public ::testing::Test {
  protected:
    void SetUp() override {
        // A private session keyring: whatever a test makes hangs from it and
        // goes with it; nothing reaches the caller's own keyrings.
        session_ = keyctl_join_session_keyring(nullptr);
        ASSERT_GT(session_, 0) << "keyctl_join_session_keyring: errno " << errno;
    }

    key_serial_t session_ = 0;
};

using anchord::testing::ring_serials;

// "type;uid;gid;perm;description", or nullopt when the key is gone.
inline std::optional<std::string> raw_describe(key_serial_t key) {
    char* raw = nullptr;
    if (keyctl_describe_alloc(key, &raw) < 0) return std::nullopt;
    std::string out(raw);
    std::free(raw);
    return out;
}

inline std::string description_of(key_serial_t key) {
    auto raw = raw_describe(key);
    if (!raw) return {};
    std::size_t pos = 0;
    for (int i = 0; i < 4 && pos != std::string::npos; ++i) pos = raw->find(';', pos + 1);
    return pos == std::string::npos ? std::string() : raw->substr(pos + 1);
}

// Keyrings named `name` directly in `ring`.
inline int count_named_keyrings(key_serial_t ring, const std::string& name) {
    int n = 0;
    for (key_serial_t id : ring_serials(ring)) {
        auto raw = raw_describe(id);
        if (raw && raw->starts_with("keyring;") && description_of(id) == name) ++n;
    }
    return n;
}

// The kernel's answer to add_key, independent of the code under test:
// 0 when linked, else the errno.
inline int real_add(key_serial_t ring, ByteView der) {
    key_serial_t id =
        add_key("asymmetric", nullptr, der.empty() ? nullptr : der.data(), der.size(), ring);
    return id < 0 ? errno : 0;
}

inline Certificate certificate_of(const testing::TestCert& t) {
    return Certificate(t.der, t.x509, CertificateInfo{});
}

using anchord::testing::UserKeyringCleanup;

// A fresh session keyring and a chain (root -> intermediate -> leaf) whose
// root anchors the sandbox that make_sandbox() builds.
class SandboxFixture : public KeyringTest {
  protected:
    void SetUp() override {
        KeyringTest::SetUp();
        if (HasFatalFailure()) return;
        chain_ = testing::make_chain();
    }
    Keyrings make_sandbox() { return Keyrings::sandbox({certificate_of(chain_.root)}); }

    testing::Chain chain_;
};

// A policy that maps each logical keyring to a kernel keyring name, and
// nothing else: what Keyrings::system reads.
inline Policy policy_mapping(std::map<LogicalKeyring, std::string> names,
                             KernelRestriction create = KernelRestriction::None) {
    Policy p;
    for (auto& [k, name] : names) {
        KeyringPolicy kp;
        kp.name = k;
        kp.kernel_keyring = name;
        kp.create_restriction = create;
        p.keyrings[k] = kp;
    }
    return p;
}

// A keyring name no other test process uses.
inline std::string unique_name(const std::string& base) {
    return base + "_" + std::to_string(getpid());
}

// The user keyring is one per uid, shared by every test process: the tests
// that make _ima or _evm there hold this lock, so that ctest -j never runs
// two of them at once (one would find the other's keyring and skip, or see
// it appear under its assertions).
class IntegrityNamesLock {
  public:
    IntegrityNamesLock()
        : fd_(::open("/tmp/anchord-tests-integrity-names.lock", O_RDWR | O_CREAT | O_CLOEXEC,
                     0600)) {
        if (fd_ >= 0) ::flock(fd_, LOCK_EX);
    }
    IntegrityNamesLock(const IntegrityNamesLock&) = delete;
    IntegrityNamesLock& operator=(const IntegrityNamesLock&) = delete;
    ~IntegrityNamesLock() {
        if (fd_ >= 0) ::close(fd_);
    }

  private:
    int fd_;
};

inline bool user_keyring_has(const std::string& name) {
    return keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", name.c_str(), 0) >= 0;
}

}  // namespace anchord::keyring::test
