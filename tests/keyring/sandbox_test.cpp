// The sandbox topology on the real kernel: what it accepts and refuses,
// with the errno the kernel gives, listing, unlinking and sealing.
#include <gtest/gtest.h>
#include <keyutils.h>
#include <openssl/x509v3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <optional>
#include <ranges>
#include <set>
#include <vector>

#include "keyring/keyrings.hpp"
#include "keyring_fixture.hpp"
#include "test_pki.hpp"

namespace anchord::keyring::test {
namespace {

using anchord::testing::ca_spec;
using anchord::testing::KeyType;
using anchord::testing::make_self_signed;
using anchord::testing::make_signed;
using anchord::testing::signing_spec;
using anchord::testing::TestCert;

Bytes skid_of(const TestCert& t) {
    const ASN1_OCTET_STRING* s = X509_get0_subject_key_id(t.x509.get());
    if (s == nullptr) return {};
    return Bytes(s->data, s->data + s->length);
}

// The errno of the KernelError `fn` throws; 0 when it throws none.
template <typename Fn>
int errno_thrown(Fn&& fn, ErrorCode* code = nullptr) {
    try {
        fn();
    } catch (const KernelError& e) {
        if (code) *code = e.code();
        return e.error_number();
    }
    return 0;
}

class SandboxTest : public SandboxFixture {};

TEST_F(SandboxTest, BuildsTheTopologyUnderTheSessionKeyring) {
    Keyrings ks = make_sandbox();
    EXPECT_TRUE(ks.is_sandbox());
    EXPECT_EQ(count_named_keyrings(session_, "anchord:sandbox"), 1);
    for (LogicalKeyring k : kAllLogicalKeyrings) {
        const KeyringLocation& loc = ks.location(k);
        ASSERT_TRUE(loc.serial.has_value()) << to_string(k);
        EXPECT_EQ(loc.kernel_name, "anchord:" + std::string(to_string(k)));
        EXPECT_EQ(description_of(loc.serial->value), loc.kernel_name);
        EXPECT_TRUE(loc.userspace_made);
    }
    EXPECT_EQ(ks.location(LogicalKeyring::Builtin).restriction.kind, Restriction::Kind::Sealed);
    EXPECT_EQ(ks.location(LogicalKeyring::Ima).restriction.kind, Restriction::Kind::KeyOrKeyring);
    EXPECT_EQ(ks.location(LogicalKeyring::Ima).restriction.key,
              ks.location(LogicalKeyring::Secondary).serial);

    // builtin holds exactly the anchor, with its SKID as the kernel shows it.
    auto builtin = ks.list(LogicalKeyring::Builtin);
    ASSERT_EQ(builtin.size(), 1u);
    EXPECT_EQ(builtin[0].type, "asymmetric");
    ASSERT_TRUE(builtin[0].subject_key_id.has_value());
    EXPECT_EQ(*builtin[0].subject_key_id, skid_of(chain_.root));

    // secondary nests builtin and machine as keyrings.
    auto secondary = ks.list(LogicalKeyring::Secondary);
    ASSERT_EQ(secondary.size(), 2u);
    EXPECT_TRUE(secondary[0].is_keyring());
    EXPECT_TRUE(secondary[1].is_keyring());
    EXPECT_EQ(secondary[0].serial, *ks.location(LogicalKeyring::Builtin).serial);
    EXPECT_EQ(secondary[1].serial, *ks.location(LogicalKeyring::Machine).serial);
    EXPECT_EQ(secondary[0].description, "anchord:builtin");
}

// Whether /proc/keys still lists any of `serials` (invalidated or not).
bool proc_keys_lists_any(const std::set<key_serial_t>& serials) {
    std::ifstream in("/proc/keys");
    std::string line;
    while (std::getline(in, line)) {
        if (serials.contains(
                static_cast<key_serial_t>(std::stoul(line.substr(0, 8), nullptr, 16)))) {
            return true;
        }
    }
    return false;
}

TEST_F(SandboxTest, GoesAwayWithTheObject) {
    std::set<key_serial_t> made;
    {
        Keyrings ks = make_sandbox();
        ks.add(LogicalKeyring::Secondary, chain_.intermediate.der);
        ks.add(LogicalKeyring::Ima, chain_.leaf.der);
        for (const auto& [k, loc] : ks.locations()) made.insert(loc.serial->value);
        for (const auto& e : ks.list(LogicalKeyring::Builtin)) made.insert(e.serial.value);
        for (const auto& e : ks.list(LogicalKeyring::Ima)) made.insert(e.serial.value);
        for (key_serial_t id : ring_serials(session_)) made.insert(id);  // anchord:sandbox
        Keyrings moved = std::move(ks);  // ownership moves, nothing is destroyed
        for (key_serial_t id : made) EXPECT_TRUE(raw_describe(id).has_value());
    }
    EXPECT_EQ(count_named_keyrings(session_, "anchord:sandbox"), 0);
    EXPECT_TRUE(ring_serials(session_).empty());
    // The kernel collects every keyring and key of the sandbox: nothing is
    // kept alive by the links between them. The collector runs on its own,
    // so poll, with a bound.
    bool gone = false;
    for (int i = 0; i < 500 && !gone; ++i) {
        gone = !proc_keys_lists_any(made);
        if (!gone) usleep(10 * 1000);
    }
    EXPECT_TRUE(gone) << "sandbox keys still listed in /proc/keys";
}

// As when anchord --sandbox is killed or its session ends: the Keyrings
// object is never destroyed, only the session keyring holding the sandbox
// goes. No link or restriction between the sandbox's keyrings may keep them
// alive then (they would stay in the kernel until reboot).
TEST_F(SandboxTest, GoesAwayWithItsSessionKeyringThoughNeverDestroyed) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        if (keyctl_join_session_keyring(nullptr) < 0) ::_exit(2);
        std::vector<key_serial_t> made;
        std::optional<Keyrings> ks;  // left to _exit: no destructor runs
        try {
            ks.emplace(make_sandbox());
            ks->add(LogicalKeyring::Secondary, chain_.intermediate.der);
            ks->add(LogicalKeyring::Ima, chain_.leaf.der);
            for (const auto& [k, loc] : ks->locations()) made.push_back(loc.serial->value);
            for (const auto& e : ks->list(LogicalKeyring::Secondary))
                made.push_back(e.serial.value);
            for (const auto& e : ks->list(LogicalKeyring::Ima)) made.push_back(e.serial.value);
            for (key_serial_t id : ring_serials(KEY_SPEC_SESSION_KEYRING)) made.push_back(id);
        } catch (...) {
            ::_exit(3);
        }
        const auto bytes = made.size() * sizeof(key_serial_t);
        ::_exit(::write(fds[1], made.data(), bytes) == static_cast<ssize_t>(bytes) ? 0 : 4);
    }
    ::close(fds[1]);
    std::set<key_serial_t> made;
    key_serial_t serial = 0;
    while (::read(fds[0], &serial, sizeof serial) == static_cast<ssize_t>(sizeof serial))
        made.insert(serial);
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    // the sandbox's keyrings, the intermediate, the leaf and anchord:sandbox
    ASSERT_GE(made.size(), 9u);
    bool gone = false;
    for (int i = 0; i < 1000 && !gone; ++i) {
        gone = !proc_keys_lists_any(made);
        if (!gone) usleep(10 * 1000);
    }
    EXPECT_TRUE(gone) << "the sandbox outlived its session keyring";
}

TEST_F(SandboxTest, AChainThroughSecondaryIsAcceptedIntoIma) {
    Keyrings ks = make_sandbox();
    AddResult intermediate = ks.add(LogicalKeyring::Secondary, chain_.intermediate.der);
    EXPECT_FALSE(intermediate.already_present);
    AddResult leaf = ks.add(LogicalKeyring::Ima, chain_.leaf.der);
    EXPECT_FALSE(leaf.already_present);
    auto ima = ks.list(LogicalKeyring::Ima);
    ASSERT_EQ(ima.size(), 1u);
    EXPECT_EQ(ima[0].serial, leaf.serial);
    EXPECT_EQ(ima[0].type, "asymmetric");
    EXPECT_EQ(ima[0].subject_key_id, skid_of(chain_.leaf));
}

TEST_F(SandboxTest, RefusalsCarryTheKernelsErrno) {
    Keyrings ks = make_sandbox();
    ks.add(LogicalKeyring::Secondary, chain_.intermediate.der);
    auto refused = [&](LogicalKeyring k, const Bytes& der) {
        ErrorCode code = ErrorCode::Internal;
        int err = errno_thrown([&] { ks.add(k, der); }, &code);
        if (err != 0) {
            EXPECT_EQ(code, ErrorCode::KernelRejected) << errno_name(err);
        }
        return err;
    };

    TestCert rogue = make_self_signed(signing_spec("rogue"));
    EXPECT_EQ(refused(LogicalKeyring::Ima, rogue.der), ENOKEY);

    // The kernel checks the signature value itself: a flipped bit breaks the
    // RSA padding, which the kernel reports as a malformed signature.
    const int tampered =
        refused(LogicalKeyring::Ima, anchord::testing::tamper_signature(chain_.leaf.der));
    EXPECT_TRUE(anchord::testing::is_tampered_signature_errno(tampered)) << errno_name(tampered);
    // A changed TBS keeps a well-formed signature that does not verify.
    EXPECT_EQ(refused(LogicalKeyring::Ima, anchord::testing::tamper_tbs(chain_.leaf.der)),
              EKEYREJECTED);

    // Issued by an intermediate the keyrings do not hold.
    TestCert other_intermediate = make_signed(ca_spec("absent intermediate"), chain_.root);
    TestCert orphan = make_signed(signing_spec("orphan"), other_intermediate);
    EXPECT_EQ(refused(LogicalKeyring::Ima, orphan.der), ENOKEY);

    // ima trusts keys reachable from secondary, not keys in ima itself.
    TestCert ca_in_ima = make_signed(ca_spec("ca in ima"), chain_.intermediate);
    ks.add(LogicalKeyring::Ima, ca_in_ima.der);
    TestCert under_ima = make_signed(signing_spec("under ima"), ca_in_ima);
    EXPECT_EQ(refused(LogicalKeyring::Ima, under_ima.der), ENOKEY);

    EXPECT_TRUE(ks.list(LogicalKeyring::Ima).size() == 1u);  // only ca_in_ima got in
}

TEST_F(SandboxTest, AnEcdsaIssuerCannotBeVerifiedWithoutTheKernelsEcdsa) {
    KernelProfile profile = detect_kernel_profile();
    Keyrings ks = make_sandbox();
    // The P-256 intermediate's own signature is the root's RSA one: accepted.
    TestCert p256 = make_signed(ca_spec("p256 intermediate"), chain_.root, KeyType::P256);
    ks.add(LogicalKeyring::Secondary, p256.der);
    TestCert leaf = make_signed(signing_spec("leaf under p256"), p256);
    int err = errno_thrown([&] { ks.add(LogicalKeyring::Ima, leaf.der); });
    if (profile.verifiable.contains(KeyAlgorithm::Ecdsa)) {
        EXPECT_EQ(err, 0);
    } else {
        EXPECT_EQ(err, ENOENT);
    }
}

// With the descriptions listed as a change began, add tells a replacement
// from them and keeps them up to date: a key linked through them earlier in
// the same change counts, as a listed one does.
TEST_F(SandboxTest, AddThroughDescriptionsTellsReplacementsAndRecordsWhatItLinks) {
    Keyrings ks = make_sandbox();
    ks.add(LogicalKeyring::Secondary, chain_.intermediate.der);
    ks.add(LogicalKeyring::Ima, chain_.leaf.der);
    TestCert second = make_signed(signing_spec("second leaf"), chain_.intermediate);

    keyring::Descriptions described(ks.listing(LogicalKeyring::Ima));
    EXPECT_TRUE(ks.add(LogicalKeyring::Ima, chain_.leaf.der, described).already_present);
    EXPECT_FALSE(ks.add(LogicalKeyring::Ima, second.der, described).already_present);
    EXPECT_TRUE(ks.add(LogicalKeyring::Ima, second.der, described).already_present);
    EXPECT_EQ(ks.list(LogicalKeyring::Ima).size(), 2u);
}

TEST_F(SandboxTest, ListingUnlinkingAndAlreadyPresent) {
    Keyrings ks = make_sandbox();
    ks.add(LogicalKeyring::Secondary, chain_.intermediate.der);
    TestCert second = make_signed(signing_spec("second leaf"), chain_.intermediate);

    AddResult first = ks.add(LogicalKeyring::Ima, chain_.leaf.der);
    AddResult other = ks.add(LogicalKeyring::Ima, second.der);
    EXPECT_FALSE(other.already_present);
    // The same certificate again: a new key, which replaces the old link.
    AddResult again = ks.add(LogicalKeyring::Ima, chain_.leaf.der);
    EXPECT_TRUE(again.already_present);
    EXPECT_NE(again.serial, first.serial);

    auto entries = ks.list(LogicalKeyring::Ima);
    std::set<KeySerial> serials;
    for (const auto& e : entries) serials.insert(e.serial);
    EXPECT_EQ(serials, (std::set<KeySerial>{other.serial, again.serial}));

    ks.unlink(LogicalKeyring::Ima, again.serial);
    entries = ks.list(LogicalKeyring::Ima);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].serial, other.serial);

    // A live key that is not linked there: ENOENT.
    ErrorCode code = ErrorCode::Internal;
    EXPECT_EQ(errno_thrown([&] { ks.unlink(LogicalKeyring::Evm, other.serial); }, &code), ENOENT);
    EXPECT_EQ(code, ErrorCode::NotFound);
    // The unlinked key itself: ENOENT, or ENOKEY once the kernel has
    // collected it; NotFound either way.
    code = ErrorCode::Internal;
    int err = errno_thrown([&] { ks.unlink(LogicalKeyring::Ima, again.serial); }, &code);
    EXPECT_TRUE(err == ENOENT || err == ENOKEY) << errno_name(err);
    EXPECT_EQ(code, ErrorCode::NotFound);
}

// Manager::keys reads the serials first to see whether its answer still
// holds, and on a miss describes those serials without reading again.
TEST_F(SandboxTest, ListingTheSerialsOfAnEarlierReadDescribesThoseKeysOnly) {
    Keyrings ks = make_sandbox();
    ks.add(LogicalKeyring::Secondary, chain_.intermediate.der);
    AddResult first = ks.add(LogicalKeyring::Ima, chain_.leaf.der);
    AddResult second =
        ks.add(LogicalKeyring::Ima, make_signed(signing_spec("second"), chain_.intermediate).der);
    const auto serials = ks.serials(LogicalKeyring::Ima);
    ASSERT_EQ(std::set<KeySerial>(serials.begin(), serials.end()),
              (std::set<KeySerial>{first.serial, second.serial}));

    // Linked after the read: not in its listing.
    AddResult later =
        ks.add(LogicalKeyring::Ima, make_signed(signing_spec("later"), chain_.intermediate).der);
    const auto of_read = ks.listing(LogicalKeyring::Ima, serials).keys();
    const auto whole = ks.list(LogicalKeyring::Ima);
    ASSERT_EQ(of_read.size(), 2u);
    ASSERT_EQ(whole.size(), 3u);
    std::map<KeySerial, const KeyEntry*> listed;
    for (const auto& e : whole) listed.emplace(e.serial, &e);
    EXPECT_TRUE(listed.contains(later.serial));
    for (std::size_t i = 0; i < of_read.size(); ++i) {
        // In the order of the read, each as a whole listing shows it.
        EXPECT_EQ(of_read[i].serial, serials[i]);
        ASSERT_TRUE(listed.contains(serials[i]));
        const KeyEntry& same = *listed.at(serials[i]);
        EXPECT_EQ(of_read[i].type, "asymmetric");
        EXPECT_EQ(of_read[i].description, same.description);
        ASSERT_TRUE(of_read[i].subject_key_id.has_value());
        EXPECT_EQ(of_read[i].subject_key_id, same.subject_key_id);
    }
}

// A listing is shared while the keyring holds the same certificates, and
// read anew when a key comes or goes or when a key is not a certificate (its
// permissions may change: a nested keyring's, when it is sealed).
TEST_F(SandboxTest, AListingIsSharedWhileTheKeyringHoldsTheSameCertificates) {
    Keyrings ks = make_sandbox();
    ks.add(LogicalKeyring::Secondary, chain_.intermediate.der);
    ks.add(LogicalKeyring::Ima, chain_.leaf.der);
    const auto before = ks.listing(LogicalKeyring::Ima);
    ASSERT_EQ(before.size(), 1u);
    EXPECT_TRUE(ks.listing(LogicalKeyring::Ima).same_as(before));

    AddResult second =
        ks.add(LogicalKeyring::Ima, make_signed(signing_spec("second"), chain_.intermediate).der);
    const auto after = ks.listing(LogicalKeyring::Ima);
    EXPECT_FALSE(after.same_as(before));
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(before.size(), 1u);  // what a reader holds does not change under it
    EXPECT_TRUE(ks.listing(LogicalKeyring::Ima).same_as(after));

    ks.unlink(LogicalKeyring::Ima, second.serial);
    const auto unlinked = ks.listing(LogicalKeyring::Ima);
    EXPECT_FALSE(unlinked.same_as(after));
    EXPECT_EQ(unlinked.size(), 1u);

    // A range over a listing that only the range holds (as the filtered
    // copy Manager makes for a keyring that also links a keyring) reads
    // live keys: the listing is the range, not a pointer to it.
    static_assert(std::ranges::range<const Listing>);
    auto only_copy = [&] { return Listing(ks.list(LogicalKeyring::Ima)); };
    std::size_t seen = 0;
    for (const auto& key : only_copy()) {
        EXPECT_EQ(key.serial, unlinked[0].serial);
        ++seen;
    }
    EXPECT_EQ(seen, 1u);

    // A keyring nested beside a certificate (in a keyring of the test's,
    // unrestricted): described again each time, so a change of its
    // permissions shows in the next listing.
    const key_serial_t plain = add_key("keyring", "plain", nullptr, 0, session_);
    ASSERT_GT(plain, 0) << std::strerror(errno);
    ASSERT_GT(add_key("asymmetric", nullptr, chain_.leaf.der.data(), chain_.leaf.der.size(), plain),
              0)
        << std::strerror(errno);
    const key_serial_t nested = add_key("keyring", "nested", nullptr, 0, plain);
    ASSERT_GT(nested, 0) << std::strerror(errno);
    auto permissions_of_nested = [&] {
        for (const auto& e : ks.list_serial(KeySerial{plain}))
            if (e.serial.value == nested) return e.permissions;
        return 0u;
    };
    const auto first_seen = permissions_of_nested();
    ASSERT_NE(first_seen, 0u);
    ASSERT_NE(first_seen, 0x3f030000u);
    ASSERT_EQ(keyctl_setperm(nested, 0x3f030000), 0) << std::strerror(errno);
    EXPECT_EQ(permissions_of_nested(), 0x3f030000u);
    keyctl_unlink(plain, session_);
}

TEST_F(SandboxTest, SubjectKeyIdIsAbsentWhenTheCertificateHasNone) {
    Keyrings ks = make_sandbox();
    ks.add(LogicalKeyring::Secondary, chain_.intermediate.der);
    auto spec = signing_spec("no skid");
    spec.subject_key_id = false;
    TestCert no_skid = make_signed(spec, chain_.intermediate);
    AddResult added = ks.add(LogicalKeyring::Ima, no_skid.der);
    auto entries = ks.list(LogicalKeyring::Ima);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].serial, added.serial);
    EXPECT_FALSE(entries[0].subject_key_id.has_value());
}

TEST_F(SandboxTest, SealedKeyringsRefuseWithEpermAsSealed) {
    Keyrings ks = make_sandbox();
    ErrorCode code = ErrorCode::Internal;
    TestCert another_root = make_self_signed(ca_spec("another root"));
    // Measured: a keyring restricted with no rule answers EPERM.
    EXPECT_EQ(errno_thrown([&] { ks.add(LogicalKeyring::Builtin, another_root.der); }, &code),
              EPERM);
    EXPECT_EQ(code, ErrorCode::Sealed);
    EXPECT_EQ(errno_thrown([&] { ks.add(LogicalKeyring::Machine, another_root.der); }), EPERM);
    EXPECT_EQ(ks.list(LogicalKeyring::Builtin).size(), 1u);
    // Sealed by a restriction already: seal() says the kernel enforces it.
    EXPECT_TRUE(ks.seal(LogicalKeyring::Builtin));
    EXPECT_EQ(errno_thrown([&] { ks.add(LogicalKeyring::Builtin, another_root.der); }), EPERM);
}

TEST_F(SandboxTest, ARestrictedKeyringIsSealedByItsPermissions) {
    Keyrings ks = make_sandbox();
    ks.add(LogicalKeyring::Secondary, chain_.intermediate.der);
    const key_serial_t ima = ks.location(LogicalKeyring::Ima).serial->value;
    // Accepted before the seal; one copy stays, one is taken out again.
    AddResult kept = ks.add(LogicalKeyring::Ima, chain_.leaf.der);
    TestCert other = make_signed(signing_spec("accepted before"), chain_.intermediate);
    AddResult removed = ks.add(LogicalKeyring::Ima, other.der);
    ks.unlink(LogicalKeyring::Ima, removed.serial);
    // The kernel keeps one restriction per keyring (restrict: EEXIST), so
    // seal() takes away every write and setattr bit: kernel-enforced.
    ASSERT_EQ(keyctl_restrict_keyring(ima, nullptr, nullptr), -1);
    ASSERT_EQ(errno, EEXIST);
    EXPECT_TRUE(ks.seal(LogicalKeyring::Ima));
    auto perm = raw_describe(ima);
    ASSERT_TRUE(perm.has_value());
    EXPECT_TRUE(perm->starts_with("keyring;" + std::to_string(geteuid()) + ";" +
                                  std::to_string(getegid()) + ";1b0b0000;"))
        << *perm;
    EXPECT_EQ(ks.location(LogicalKeyring::Ima).restriction.kind, Restriction::Kind::KeyOrKeyring);

    // Measured: the kernel refuses what it accepted before with EACCES, root
    // included, through anchord (code Sealed) and directly, add and link.
    ErrorCode code = ErrorCode::Internal;
    EXPECT_EQ(errno_thrown([&] { ks.add(LogicalKeyring::Ima, other.der); }, &code), EACCES);
    EXPECT_EQ(code, ErrorCode::Sealed);
    EXPECT_EQ(real_add(ima, other.der), EACCES);
    EXPECT_EQ(keyctl_link(removed.serial.value, ima), -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_EQ(ks.trial(LogicalKeyring::Ima, other.der).error_number, EACCES);
    // Its permissions cannot be given back: setattr is gone too.
    EXPECT_EQ(keyctl_setperm(ima, KEY_POS_ALL | KEY_USR_ALL), -1);
    EXPECT_EQ(errno, EACCES);
    // Unlinks are writes too.
    EXPECT_EQ(errno_thrown([&] { ks.unlink(LogicalKeyring::Ima, kept.serial); }, &code), EACCES);
    EXPECT_EQ(code, ErrorCode::Sealed);

    // Listing still works and shows what it held before.
    auto entries = ks.list(LogicalKeyring::Ima);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].serial, kept.serial);
    // Sealing again says the same, though restrict and setperm now answer EACCES.
    EXPECT_TRUE(ks.seal(LogicalKeyring::Ima));
    // Its sibling, not sealed, still takes the key.
    EXPECT_NO_THROW(ks.add(LogicalKeyring::Evm, other.der));
}

TEST_F(SandboxTest, MachineAndPlatformHoldWhatTheyAreGiven) {
    TestCert mok = make_self_signed(ca_spec("mok ca"));
    TestCert db = make_self_signed(ca_spec("db ca"));
    Keyrings ks = Keyrings::sandbox({certificate_of(chain_.root)}, {certificate_of(mok)},
                                    {certificate_of(db)});
    ASSERT_EQ(ks.list(LogicalKeyring::Machine).size(), 1u);
    EXPECT_EQ(ks.list(LogicalKeyring::Machine)[0].subject_key_id, skid_of(mok));
    ASSERT_EQ(ks.list(LogicalKeyring::Platform).size(), 1u);
    // A machine key vouches for secondary and, through it, for ima.
    TestCert mok_leaf = make_signed(signing_spec("signed by mok"), mok);
    EXPECT_NO_THROW(ks.add(LogicalKeyring::Ima, mok_leaf.der));
    // A platform key does not.
    TestCert db_leaf = make_signed(signing_spec("signed by db"), db);
    EXPECT_EQ(errno_thrown([&] { ks.add(LogicalKeyring::Ima, db_leaf.der); }), ENOKEY);
}

TEST_F(SandboxTest, ARefusedAnchorLeavesNothingBehind) {
    Bytes garbage{0x30, 0x03, 0x02, 0x01, 0x05};
    TestCert fake_wrapper = chain_.root;
    fake_wrapper.der = garbage;
    ErrorCode code = ErrorCode::Internal;
    EXPECT_EQ(errno_thrown([&] { Keyrings::sandbox({certificate_of(fake_wrapper)}); }, &code),
              EBADMSG);
    EXPECT_EQ(code, ErrorCode::KernelRejected);
    EXPECT_EQ(count_named_keyrings(session_, "anchord:sandbox"), 0);
}

TEST_F(SandboxTest, BlacklistEntriesAreRecordedAndRead) {
    Keyrings ks = make_sandbox();
    Sha256 tbs = Sha256::of(chain_.leaf.der);
    Sha256 bin = Sha256::of(chain_.root.der);
    ks.add_blacklist_entry("tbs", tbs);
    ks.add_blacklist_entry("bin", bin);
    EXPECT_EQ(ks.blacklist_tbs(), (std::set<Sha256>{tbs}));
    EXPECT_EQ(ks.blacklist_bin(), (std::set<Sha256>{bin}));
    try {
        ks.add_blacklist_entry("sha1", tbs);
        FAIL() << "an unknown kind was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    }
}

}  // namespace
}  // namespace anchord::keyring::test
