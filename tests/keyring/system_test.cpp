// The system's keyrings on this kernel: discovery through /proc/keys, the
// kernel's refusals, and _ima made in the user keyring (removed afterwards).
#include <gtest/gtest.h>
#include <keyutils.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "keyring/keyrings.hpp"
#include "keyring_fixture.hpp"
#include "test_pki.hpp"

namespace anchord::keyring::test {
namespace {

using anchord::testing::ca_spec;
using anchord::testing::make_self_signed;
using anchord::testing::signing_spec;
using anchord::testing::TestCert;

// The default policy's mapping (policy/default-policy.json).
Policy default_mapping() {
    return policy_mapping({{LogicalKeyring::Builtin, ".builtin_trusted_keys"},
                           {LogicalKeyring::Secondary, ".secondary_trusted_keys"},
                           {LogicalKeyring::Machine, ".machine"},
                           {LogicalKeyring::Platform, ".platform"},
                           {LogicalKeyring::Ima, ".ima"},
                           {LogicalKeyring::Evm, ".evm"}});
}

// The serial /proc/keys gives the root-owned keyring `name`, read here
// without the code under test; 0 when absent.
key_serial_t proc_keys_serial(const std::string& name) {
    std::ifstream in("/proc/keys");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string serial, flags, usage, expiry, perm, uid, gid, type;
        fields >> serial >> flags >> usage >> expiry >> perm >> uid >> gid >> type;
        if (type == "keyring" && uid == "0" && line.find(" " + name + ": ") != std::string::npos) {
            return static_cast<key_serial_t>(std::stoul(serial, nullptr, 16));
        }
    }
    return 0;
}

class SystemTest : public KeyringTest {};

TEST_F(SystemTest, DiscoversThisKernelsKeyrings) {
    Keyrings ks = Keyrings::system(default_mapping(), false);
    EXPECT_FALSE(ks.is_sandbox());

    const KeyringLocation& builtin = ks.location(LogicalKeyring::Builtin);
    ASSERT_TRUE(builtin.serial.has_value());
    EXPECT_EQ(builtin.serial->value, proc_keys_serial(".builtin_trusted_keys"));
    EXPECT_FALSE(builtin.userspace_made);
    ASSERT_TRUE(ks.blacklist_keyring().has_value());
    EXPECT_EQ(ks.blacklist_keyring()->value, proc_keys_serial(".blacklist"));

    // Whatever this kernel lacks is reported absent, not as an error.
    for (LogicalKeyring k : {LogicalKeyring::Secondary, LogicalKeyring::Machine,
                             LogicalKeyring::Platform, LogicalKeyring::Ima, LogicalKeyring::Evm}) {
        const KeyringLocation& loc = ks.location(k);
        key_serial_t expected = proc_keys_serial(loc.kernel_name);
        EXPECT_EQ(loc.serial.has_value(), expected != 0) << loc.kernel_name;
    }
    EXPECT_EQ(ks.location(LogicalKeyring::Ima).kernel_name, ".ima");
    EXPECT_FALSE(ks.location(LogicalKeyring::Ima).serial.has_value())
        << "this suite expects a kernel without CONFIG_INTEGRITY_TRUSTED_KEYRING";

    // Listing the kernel's builtin keyring gives what keyctl_read gives.
    EXPECT_EQ(ks.list(LogicalKeyring::Builtin).size(), ring_serials(builtin.serial->value).size());
    std::size_t tbs = 0;
    for (key_serial_t id : ring_serials(ks.blacklist_keyring()->value)) {
        if (description_of(id).starts_with("tbs:")) ++tbs;
    }
    EXPECT_EQ(ks.blacklist_tbs().size(), tbs);
}

TEST_F(SystemTest, AbsentKeyringsAreNotFound) {
    Keyrings ks = Keyrings::system(default_mapping(), false);
    TestCert leaf = make_self_signed(signing_spec("anything"));
    if (ks.location(LogicalKeyring::Ima).serial) GTEST_SKIP() << "this kernel has .ima";
    try {
        ks.trial(LogicalKeyring::Ima, leaf.der);
        FAIL() << "a trial on an absent keyring succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::NotFound);
    }
    try {
        ks.list(LogicalKeyring::Ima);
        FAIL() << "listing an absent keyring succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::NotFound);
    }
}

TEST_F(SystemTest, TheKernelsBuiltinKeyringRefusesUserspace) {
    Keyrings ks = Keyrings::system(default_mapping(), false);
    TestCert root = make_self_signed(ca_spec("would-be builtin"));
    // Its permissions give root no write: the kernel answers EACCES before
    // it reads the certificate. (No real add here: a kernel that accepted it
    // would trust the test's key until reboot.)
    TrialResult t = ks.trial(LogicalKeyring::Builtin, root.der);
    EXPECT_FALSE(t.accepted);
    EXPECT_EQ(t.error_number, EACCES);
    // Root cannot restrict a keyring the kernel made.
    try {
        ks.seal(LogicalKeyring::Builtin);
        FAIL() << "the kernel sealed .builtin_trusted_keys";
    } catch (const KernelError& e) {
        EXPECT_EQ(e.code(), ErrorCode::AccessDenied);
        EXPECT_EQ(e.error_number(), EACCES);
    }
    EXPECT_THROW(ks.add_blacklist_entry("tbs", Sha256::of(root.der)), Error);
}

TEST_F(SystemTest, CreatesARestrictedImaInTheUserKeyring) {
    IntegrityNamesLock lock;
    if (user_keyring_has("_ima")) GTEST_SKIP() << "an _ima exists already; leaving it alone";
    UserKeyringCleanup cleanup("_ima");
    Policy policy = policy_mapping(
        {{LogicalKeyring::Builtin, ".builtin_trusted_keys"}, {LogicalKeyring::Ima, "_ima"}},
        KernelRestriction::BuiltinTrusted);

    // Without create_missing nothing is made.
    Keyrings absent = Keyrings::system(policy, false);
    EXPECT_FALSE(absent.location(LogicalKeyring::Ima).serial.has_value());
    EXPECT_FALSE(user_keyring_has("_ima"));

    Keyrings ks = Keyrings::system(policy, true);
    const KeyringLocation& ima = ks.location(LogicalKeyring::Ima);
    ASSERT_TRUE(ima.serial.has_value());
    EXPECT_TRUE(user_keyring_has("_ima"));
    EXPECT_EQ(keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", "_ima", 0), ima.serial->value);
    EXPECT_TRUE(ima.userspace_made);
    EXPECT_TRUE(ima.kernel_restricted);
    EXPECT_EQ(ima.restriction.kind, Restriction::Kind::BuiltinTrusted);
    EXPECT_FALSE(ima.restriction.assumed);
    auto raw = raw_describe(ima.serial->value);
    ASSERT_TRUE(raw.has_value());
    EXPECT_TRUE(raw->starts_with("keyring;0;0;3f2f0000;_ima")) << *raw;
    // Nothing is left in the process keyring it was made in.
    EXPECT_EQ(count_named_keyrings(KEY_SPEC_PROCESS_KEYRING, "_ima"), 0);

    // The kernel itself refuses a rogue there, trial and real alike.
    TestCert rogue = make_self_signed(signing_spec("rogue"));
    EXPECT_EQ(ks.trial(LogicalKeyring::Ima, rogue.der).error_number, ENOKEY);
    try {
        ks.add(LogicalKeyring::Ima, rogue.der);
        FAIL() << "a rogue certificate got into _ima";
    } catch (const KernelError& e) {
        EXPECT_EQ(e.error_number(), ENOKEY);
        EXPECT_EQ(e.code(), ErrorCode::KernelRejected);
    }
    EXPECT_EQ(real_add(ima.serial->value, rogue.der), ENOKEY);
    EXPECT_TRUE(ring_serials(ima.serial->value).empty());

    // Found again, already restricted: the kernel answers EEXIST, and the
    // rule is taken as the policy's, marked assumed.
    Keyrings again = Keyrings::system(policy, true);
    EXPECT_EQ(again.location(LogicalKeyring::Ima).serial, ima.serial);
    EXPECT_EQ(again.location(LogicalKeyring::Ima).restriction.kind,
              Restriction::Kind::BuiltinTrusted);
    EXPECT_TRUE(again.location(LogicalKeyring::Ima).restriction.assumed);
}

TEST_F(SystemTest, ASealedKeyringRefusesWhatItAcceptedBefore) {
    std::string name = unique_name("_anchord_seal_test");
    ASSERT_FALSE(user_keyring_has(name));
    UserKeyringCleanup cleanup(name);
    Keyrings ks = Keyrings::system(policy_mapping({{LogicalKeyring::Ima, name}}), true);
    const KeyringLocation& ring = ks.location(LogicalKeyring::Ima);
    ASSERT_TRUE(ring.serial.has_value());
    EXPECT_FALSE(ring.kernel_restricted);  // nothing guards a bare userspace keyring

    TestCert cert = make_self_signed(signing_spec("accepted before"));
    AddResult added = ks.add(LogicalKeyring::Ima, cert.der);
    ks.unlink(LogicalKeyring::Ima, added.serial);

    EXPECT_TRUE(ks.seal(LogicalKeyring::Ima));
    EXPECT_EQ(ring.restriction.kind, Restriction::Kind::Sealed);
    // Measured: the seal answers EPERM.
    EXPECT_EQ(ks.trial(LogicalKeyring::Ima, cert.der).error_number, EPERM);
    try {
        ks.add(LogicalKeyring::Ima, cert.der);
        FAIL() << "a sealed keyring took a link";
    } catch (const KernelError& e) {
        EXPECT_EQ(e.error_number(), EPERM);
        EXPECT_EQ(e.code(), ErrorCode::Sealed);
    }
    EXPECT_EQ(real_add(ring.serial->value, cert.der), EPERM);
    // Sealed already (restrict answers EEXIST): still the kernel's seal, and
    // unlinks stay possible (no permission seal on top).
    EXPECT_TRUE(ks.seal(LogicalKeyring::Ima));
    auto raw = raw_describe(ring.serial->value);
    ASSERT_TRUE(raw.has_value());
    EXPECT_NE(raw->find(";3f2f0000;"), std::string::npos) << *raw;
}

TEST_F(SystemTest, ARestrictedUserspaceKeyringIsSealedByItsPermissionsAcrossRestarts) {
    std::string name = unique_name("_anchord_permseal_test");
    ASSERT_FALSE(user_keyring_has(name));
    UserKeyringCleanup cleanup(name);
    Policy policy =
        policy_mapping({{LogicalKeyring::Ima, name}}, KernelRestriction::BuiltinTrusted);
    Keyrings ks = Keyrings::system(policy, true);
    const key_serial_t ring = ks.location(LogicalKeyring::Ima).serial->value;
    TestCert rogue = make_self_signed(signing_spec("rogue"));
    // Before the seal the rule answers; restricted already, so no NULL seal.
    EXPECT_EQ(real_add(ring, rogue.der), ENOKEY);
    ASSERT_EQ(keyctl_restrict_keyring(ring, nullptr, nullptr), -1);
    ASSERT_EQ(errno, EEXIST);

    EXPECT_TRUE(ks.seal(LogicalKeyring::Ima));
    auto raw = raw_describe(ring);
    ASSERT_TRUE(raw.has_value());
    EXPECT_NE(raw->find(";1b0b0000;"), std::string::npos) << *raw;
    // Measured: root is refused by the permissions before the rule runs.
    EXPECT_EQ(real_add(ring, rogue.der), EACCES);
    ErrorCode code = ErrorCode::Internal;
    try {
        ks.add(LogicalKeyring::Ima, rogue.der);
        ADD_FAILURE() << "a permission-sealed keyring took a link";
    } catch (const KernelError& e) {
        code = e.code();
        EXPECT_EQ(e.error_number(), EACCES);
    }
    EXPECT_EQ(code, ErrorCode::Sealed);

    // A later anchord finds it sealed: restrict and setperm answer EACCES,
    // and seal() still reports the kernel's seal.
    Keyrings again = Keyrings::system(policy, true);
    EXPECT_EQ(again.location(LogicalKeyring::Ima).serial->value, ring);
    EXPECT_TRUE(again.seal(LogicalKeyring::Ima));
    EXPECT_EQ(again.list(LogicalKeyring::Ima).size(), 0u);
}

}  // namespace
}  // namespace anchord::keyring::test
