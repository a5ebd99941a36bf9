// anchord end to end: the real binary on a private dbus-daemon, in sandbox
// mode, enrolling into real kernel keyrings inside the test's session
// keyring.
#include <grp.h>
#include <openssl/x509.h>
#include <sys/types.h>

#include <map>
#include <regex>

#include "anchord_harness.hpp"
#include "state/state_store.hpp"

namespace anchord::testing {
namespace {

std::string error_name(ErrorCode code) {
    return dbus_error_name(code);
}

// --- start-up ------------------------------------------------------------------

TEST_F(AnchordTest, StartsAnnouncesReadyAndServesTheSandbox) {
    ASSERT_TRUE(start_daemon());
    EXPECT_TRUE(notify_->wait_for("READY=1")) << "no READY=1 on NOTIFY_SOCKET";
    EXPECT_EQ(manager_property<std::string>("Mode"), "sandbox");
    EXPECT_FALSE(manager_property<std::string>("Version").empty());
    EXPECT_TRUE(manager_property<bool>("Compliant"));
    EXPECT_GT(manager_property<uint64_t>("LastReconcile"), 0u);
    // The anchor is in the sandbox's builtin keyring, in the kernel.
    EXPECT_EQ(fingerprints("builtin", "builtin"), std::set<std::string>{fp(pki_.chain.root)});
    EXPECT_EQ(kernel_keys("builtin").size(), 1u);
    EXPECT_TRUE(keyring_property<bool>("ima", "Present"));
    EXPECT_TRUE(keyring_property<bool>("ima", "KernelGuarded"));
    EXPECT_EQ(keyring_property<std::string>("ima", "Role"), "signing");
    EXPECT_EQ(keyring_property<std::string>("secondary", "Role"), "ca");
}

TEST_F(AnchordTest, SigtermReleasesTheNameAndExitsZero) {
    ASSERT_TRUE(start_daemon());
    EXPECT_EQ(stop_daemon(), 0);
    auto driver = sdbus::createProxy(*connection_, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    bool owned = true;
    driver->callMethod("NameHasOwner")
        .onInterface("org.freedesktop.DBus")
        .withArguments(std::string(kBusName))
        .storeResultsTo(owned);
    EXPECT_FALSE(owned);
}

// dbus-daemon going away (the system bus restarted, say) ends anchord with
// an error naming the bus, for the unit's Restart= to act on; it used to
// end in std::terminate (SIGABRT, a core dump) from sdbus-c++'s bus thread.
TEST_F(AnchordTest, LosingTheBusStopsWithAnErrorNotACrash) {
    ASSERT_TRUE(start_daemon());
    connection_.reset();  // the test's own connection to that bus
    bus_.reset();         // dbus-daemon stopped
    EXPECT_EQ(wait_exit(), 1) << "not exit status 1 (-1: killed by a signal, or still running)";
    const auto log = read_text(log_file());
    EXPECT_NE(log.find("the connection to the bus at"), std::string::npos) << log;
    EXPECT_EQ(log.find("terminate called"), std::string::npos) << log;
}

// --- enrollment ----------------------------------------------------------------

TEST_F(AnchordTest, EnrollsAnIntermediateIntoSecondaryAndALeafIntoIma) {
    ASSERT_TRUE(start_daemon());
    const auto& chain = pki_.chain;

    auto verified = verify(chain.intermediate.der, "secondary");
    ASSERT_EQ(verified.size(), 1u);
    EXPECT_TRUE(accepted_of(verified[0]));
    EXPECT_TRUE(kernel_accepted_of(verified[0]));
    EXPECT_EQ(serial_of(verified[0]), 0);
    EXPECT_TRUE(kernel_keys("secondary").size() == 2u)
        << "Verify must link nothing (secondary holds only its nested keyrings)";

    auto inter = enroll(chain.intermediate.der, "secondary");
    ASSERT_EQ(inter.size(), 1u);
    EXPECT_TRUE(accepted_of(inter[0]));
    EXPECT_EQ(fingerprint_of(inter[0]), fp(chain.intermediate));
    ASSERT_GT(serial_of(inter[0]), 0);
    auto secondary_serials = kernel_keys("secondary");
    EXPECT_NE(std::find(secondary_serials.begin(), secondary_serials.end(), serial_of(inter[0])),
              secondary_serials.end());

    auto leaf = enroll(chain.leaf.pem_bytes(), "ima");
    ASSERT_EQ(leaf.size(), 1u);
    EXPECT_TRUE(accepted_of(leaf[0]));
    ASSERT_GT(serial_of(leaf[0]), 0);
    EXPECT_EQ(kernel_keys("ima"), std::vector<key_serial_t>{serial_of(leaf[0])});

    EXPECT_EQ(fingerprints("secondary"), std::set<std::string>{fp(chain.intermediate)});
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{fp(chain.leaf)});
    EXPECT_TRUE(manager_property<bool>("Compliant"));

    // Enrolled already: accepted with its serial, nothing new linked.
    auto again = enroll(chain.leaf.der, "ima");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_TRUE(accepted_of(again[0]));
    EXPECT_EQ(serial_of(again[0]), serial_of(leaf[0]));
    EXPECT_EQ(kernel_keys("ima"), std::vector<key_serial_t>{serial_of(leaf[0])});

    state::StateStore store(state_dir());
    auto state = store.load();
    EXPECT_EQ(state.records.size(), 2u);
    EXPECT_TRUE(state.pending.empty());
    EXPECT_NE(state.find(Fingerprint::of_der(chain.leaf.der), LogicalKeyring::Ima), nullptr);
}

TEST_F(AnchordTest, ARogueCertificateIsRefusedNamingTheFailedCheck) {
    ASSERT_TRUE(start_daemon());
    auto verified = verify(pki_.rogue.der, "ima");
    ASSERT_EQ(verified.size(), 1u);
    EXPECT_FALSE(accepted_of(verified[0]));
    // The kernel was asked even though the policy refused, and refused too.
    EXPECT_FALSE(kernel_accepted_of(verified[0]));
    EXPECT_FALSE(kernel_errno_of(verified[0]).empty());
    std::vector<std::string> failed;
    for (const auto& c : checks_of(verified[0])) {
        if (c.get<1>() == "fail") failed.push_back(c.get<0>());
    }

    std::string message;
    auto name = error_name_of([&] { enroll(pki_.rogue.der, "ima"); }, &message);
    if (name == error_name(ErrorCode::PolicyRejected)) {
        ASSERT_FALSE(failed.empty());
        for (const auto& id : failed)
            EXPECT_NE(message.find(id), std::string::npos) << id << " not in: " << message;
    } else {
        EXPECT_EQ(name, error_name(ErrorCode::KernelRejected));
        EXPECT_NE(message.find(kernel_errno_of(verified[0])), std::string::npos) << message;
    }
    EXPECT_TRUE(kernel_keys("ima").empty());
    EXPECT_TRUE(fingerprints("ima").empty());

    // builtin is not enrollable: the policy says no before the kernel is asked.
    auto other_root = make_self_signed(ca_spec("another root"));
    EXPECT_EQ(error_name_of([&] { enroll(other_root.der, "builtin"); }),
              error_name(ErrorCode::PolicyRejected));
    EXPECT_EQ(kernel_keys("builtin").size(), 1u);
}

TEST_F(AnchordTest, ABundleWithOneBadCertificateChangesNothing) {
    ASSERT_TRUE(start_daemon());
    const auto& chain = pki_.chain;
    ASSERT_EQ(enroll(chain.intermediate.der, "secondary").size(), 1u);
    const auto state_before = state_text();
    const auto ima_before = kernel_keys("ima");
    const auto secondary_before = kernel_keys("secondary");

    auto second_leaf = make_signed(signing_spec("second leaf"), chain.intermediate);
    // A forged signature: still a readable certificate, so the bundle's
    // second position fails a check rather than the reading.
    TestCert forged = second_leaf;
    forged.der = tamper_signature(second_leaf.der);
    const unsigned char* p = forged.der.data();
    forged.x509.reset(d2i_X509(nullptr, &p, static_cast<long>(forged.der.size())), X509_free);
    ASSERT_TRUE(forged.x509);
    Bytes bundle = bundle_of({&chain.leaf, &forged});

    auto name = error_name_of([&] { enroll(bundle, "ima"); });
    EXPECT_TRUE(name == error_name(ErrorCode::PolicyRejected) ||
                name == error_name(ErrorCode::KernelRejected))
        << name;
    EXPECT_EQ(kernel_keys("ima"), ima_before);
    EXPECT_EQ(kernel_keys("secondary"), secondary_before);
    EXPECT_EQ(state_text(), state_before) << "the state was written";

    // Unreadable bytes at one position: InvalidCertificate, nothing changes.
    Bytes garbled = chain.leaf.pem_bytes();
    std::string junk = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    garbled.insert(garbled.end(), junk.begin(), junk.end());
    EXPECT_EQ(error_name_of([&] { enroll(garbled, "ima"); }),
              error_name(ErrorCode::InvalidCertificate));
    EXPECT_EQ(kernel_keys("ima"), ima_before);
    EXPECT_EQ(state_text(), state_before);

    // "partial": what passes is enrolled, the rest reported.
    auto results = enroll(bundle, "ima", /*partial=*/true);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_TRUE(accepted_of(results[0]));
    EXPECT_FALSE(accepted_of(results[1]));
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{fp(chain.leaf)});
    EXPECT_EQ(kernel_keys("ima").size(), 1u);
}

// "brief": an enrolled certificate's result keeps only the checks that
// warned or failed; a refused one, and any result without the option, keeps
// every check, as Verify gives them.
TEST_F(AnchordTest, BriefLeavesOutTheChecksAnEnrolledCertificatePassed) {
    ASSERT_TRUE(start_daemon());
    const auto& chain = pki_.chain;
    ASSERT_EQ(enroll(chain.intermediate.der, "secondary").size(), 1u);
    auto p256 = make_signed(signing_spec("brief p256"), chain.intermediate, KeyType::P256);
    auto rogue = make_self_signed(signing_spec("brief rogue"));
    const Bytes bundle = bundle_of({&chain.leaf, &p256, &rogue});

    using Summary = std::vector<std::pair<std::string, std::string>>;  // id, outcome
    auto summary = [](const BusResult& r, bool notable_only) {
        Summary out;
        for (const auto& c : checks_of(r)) {
            if (notable_only && c.get<1>() != "warn" && c.get<1>() != "fail") continue;
            out.emplace_back(c.get<0>(), c.get<1>());
        }
        return out;
    };
    const auto full = verify(bundle, "ima");
    ASSERT_EQ(full.size(), 3u);
    const auto brief =
        enroll(bundle, "ima", {{"partial", sdbus::Variant(true)}, {"brief", sdbus::Variant(true)}});
    ASSERT_EQ(brief.size(), 3u);
    for (std::size_t i : {0u, 1u}) {
        ASSERT_TRUE(accepted_of(brief[i])) << i;
        EXPECT_EQ(summary(brief[i], false), summary(full[i], true)) << i;
        EXPECT_LT(checks_of(brief[i]).size() + 20, checks_of(full[i]).size()) << i;
    }
    EXPECT_FALSE(accepted_of(brief[2]));
    EXPECT_EQ(summary(brief[2], false), summary(full[2], false));
    EXPECT_EQ(fingerprints("ima"), (std::set<std::string>{fp(chain.leaf), fp(p256)}));

    auto other = make_signed(signing_spec("not brief"), chain.intermediate);
    const auto verified = verify(other.der, "ima");
    const auto plain = enroll(other.der, "ima", {{"brief", sdbus::Variant(false)}});
    ASSERT_EQ(plain.size(), 1u);
    ASSERT_TRUE(accepted_of(plain[0]));
    EXPECT_EQ(summary(plain[0], false), summary(verified[0], false));
}

TEST_F(AnchordTest, BadArgumentsAreRefusedWithInvalidArgument) {
    ASSERT_TRUE(start_daemon());
    const auto invalid = error_name(ErrorCode::InvalidArgument);
    EXPECT_EQ(error_name_of([&] { verify(pki_.chain.leaf.der, "imaginary"); }), invalid);
    EXPECT_EQ(error_name_of([&] { enroll(pki_.chain.leaf.der, std::string(4096, 'x')); }), invalid);
    EXPECT_EQ(error_name_of([&] {
                  std::map<std::string, sdbus::Variant> options{{"force", sdbus::Variant(true)}};
                  std::vector<BusResult> r;
                  manager_->callMethod("Enroll")
                      .onInterface(kManagerInterface)
                      .withArguments(pki_.chain.leaf.der, std::string("ima"), options)
                      .storeResultsTo(r);
              }),
              invalid);
    EXPECT_EQ(error_name_of([&] {
                  std::map<std::string, sdbus::Variant> options{
                      {"partial", sdbus::Variant(std::string("yes"))}};
                  std::vector<BusResult> r;
                  manager_->callMethod("Enroll")
                      .onInterface(kManagerInterface)
                      .withArguments(pki_.chain.leaf.der, std::string("ima"), options)
                      .storeResultsTo(r);
              }),
              invalid);
    EXPECT_EQ(error_name_of([&] { verify(Bytes(1024 * 1024 + 1, 0x30), "ima"); }), invalid);
    EXPECT_EQ(error_name_of([&] {
                  manager_->callMethod("Remove")
                      .onInterface(kManagerInterface)
                      .withArguments(std::string("sha256:zz"), std::string("ima"));
              }),
              invalid);
    EXPECT_EQ(error_name_of([&] {
                  manager_->callMethod("Remove")
                      .onInterface(kManagerInterface)
                      .withArguments(fp(pki_.chain.leaf), std::string("ima"));
              }),
              error_name(ErrorCode::NotFound));
}

TEST_F(AnchordTest, RemoveUnlinksAndForgets) {
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    ASSERT_EQ(enroll(pki_.chain.leaf.der, "ima").size(), 1u);
    manager_->callMethod("Remove")
        .onInterface(kManagerInterface)
        .withArguments(fp(pki_.chain.leaf), std::string("ima"));
    EXPECT_TRUE(kernel_keys("ima").empty());
    EXPECT_TRUE(fingerprints("ima").empty());
    auto state = state::StateStore(state_dir()).load();
    EXPECT_EQ(state.find(Fingerprint::of_der(pki_.chain.leaf.der), LogicalKeyring::Ima), nullptr);
    EXPECT_TRUE(manager_property<bool>("Compliant"));
}

// secondary holds a nested keyring (machine) beside its certificates, so
// its listing of certificates is a filtered copy: Remove must hold it while
// it looks for the key (it once iterated a copy already freed and unlinked
// nothing).
TEST_F(AnchordTest, RemoveUnlinksFromAKeyringThatAlsoLinksAKeyring) {
    ASSERT_TRUE(start_daemon());
    const auto results = enroll(pki_.chain.intermediate.der, "secondary");
    ASSERT_EQ(results.size(), 1u);
    const key_serial_t serial = results[0].get<3>();
    auto linked = [&] {
        const auto keys = kernel_keys("secondary");
        return std::find(keys.begin(), keys.end(), serial) != keys.end();
    };
    ASSERT_TRUE(linked());
    ASSERT_GT(kernel_keys("secondary").size(), 1u) << "secondary links no keyring here";
    manager_->callMethod("Remove")
        .onInterface(kManagerInterface)
        .withArguments(fp(pki_.chain.intermediate), std::string("secondary"));
    EXPECT_FALSE(linked());
    EXPECT_TRUE(fingerprints("secondary").empty());
    EXPECT_TRUE(manager_property<bool>("Compliant"));
}

TEST_F(AnchordTest, ASealedKeyringRefusesEnrollmentAndStaysSealed) {
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    bool kernel_enforced = false;
    manager_->callMethod("Seal")
        .onInterface(kManagerInterface)
        .withArguments(std::string("ima"))
        .storeResultsTo(kernel_enforced);
    // The sandbox's ima already carries the kernel's restriction (signed by
    // secondary), and the kernel keeps one per keyring: it is sealed by its
    // permissions instead, still by the kernel.
    EXPECT_TRUE(kernel_enforced);
    EXPECT_TRUE(keyring_property<bool>("ima", "Sealed"));
    EXPECT_EQ(error_name_of([&] { enroll(pki_.chain.leaf.der, "ima"); }),
              error_name(ErrorCode::Sealed));
    EXPECT_TRUE(kernel_keys("ima").empty());
    // Verify tells the same: the seal is one of its checks.
    auto verified = verify(pki_.chain.leaf.der, "ima");
    ASSERT_EQ(verified.size(), 1u);
    EXPECT_FALSE(accepted_of(verified[0]));
    bool seal_check = false;
    for (const auto& c : checks_of(verified[0]))
        seal_check = seal_check || (c.get<0>() == "anchord.sealed" && c.get<1>() == "fail");
    EXPECT_TRUE(seal_check);

    // Behind anchord's back, root included: the kernel refuses (measured EACCES).
    auto ima = keyring_property<int32_t>("ima", "Serial");
    EXPECT_EQ(
        add_key("asymmetric", nullptr, pki_.chain.leaf.der.data(), pki_.chain.leaf.der.size(), ima),
        -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_TRUE(kernel_keys("ima").empty());
    EXPECT_TRUE(manager_property<bool>("Compliant"));

    ASSERT_EQ(stop_daemon(), 0);
    new_session_keyring();
    ASSERT_TRUE(start_daemon());
    EXPECT_TRUE(keyring_property<bool>("ima", "Sealed"));
    EXPECT_EQ(error_name_of([&] { enroll(pki_.chain.leaf.der, "ima"); }),
              error_name(ErrorCode::Sealed));
    // Sealed again at start, in the new keyrings, by the kernel.
    ima = keyring_property<int32_t>("ima", "Serial");
    EXPECT_EQ(
        add_key("asymmetric", nullptr, pki_.chain.leaf.der.data(), pki_.chain.leaf.der.size(), ima),
        -1);
    EXPECT_EQ(errno, EACCES);
    EXPECT_TRUE(manager_property<bool>("Compliant"));
}

TEST_F(AnchordTest, AKeyLinkedBehindAnchordsOwnSealIsDrift) {
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    // Someone takes setattr away from ima (as a keyring another tool keeps
    // to itself): the kernel will not seal it for anchord (restrict and
    // setperm answer EACCES) but still takes links, so the seal is anchord's own.
    auto ima = keyring_property<int32_t>("ima", "Serial");
    ASSERT_EQ(keyctl_setperm(ima, KEY_POS_VIEW | KEY_POS_READ | KEY_POS_WRITE | KEY_POS_SEARCH |
                                      KEY_POS_LINK | KEY_USR_VIEW | KEY_USR_READ | KEY_USR_WRITE |
                                      KEY_USR_SEARCH),
              0)
        << std::strerror(errno);
    bool kernel_enforced = true;
    manager_->callMethod("Seal")
        .onInterface(kManagerInterface)
        .withArguments(std::string("ima"))
        .storeResultsTo(kernel_enforced);
    EXPECT_FALSE(kernel_enforced);
    EXPECT_TRUE(keyring_property<bool>("ima", "Sealed"));
    EXPECT_EQ(error_name_of([&] { enroll(pki_.chain.leaf.der, "ima"); }),
              error_name(ErrorCode::Sealed));
    EXPECT_TRUE(kernel_keys("ima").empty());

    // Someone links a key behind anchord's back: drift "sealed-bypass".
    ASSERT_GT(
        add_key("asymmetric", nullptr, pki_.chain.leaf.der.data(), pki_.chain.leaf.der.size(), ima),
        0)
        << std::strerror(errno);
    std::vector<BusQuad> drift;
    manager_->callMethod("Reconcile").onInterface(kManagerInterface).storeResultsTo(drift);
    ASSERT_EQ(drift.size(), 1u);
    EXPECT_EQ(drift[0].get<0>(), "ima");
    EXPECT_EQ(drift[0].get<1>(), "") << "anchord never saw this certificate: no fingerprint";
    EXPECT_EQ(drift[0].get<2>(), "sealed-bypass");
    EXPECT_FALSE(manager_property<bool>("Compliant"));
    EXPECT_EQ(manager_property<std::vector<BusQuad>>("Drift").size(), 1u);
}

TEST_F(AnchordTest, AKernelRefusalMidBundleUndoesTheWholeCall) {
    ASSERT_TRUE(start_daemon());
    const auto& chain = pki_.chain;
    auto inter_b = make_signed(ca_spec("intermediate B"), chain.root);
    auto leaf_b = make_signed(signing_spec("leaf B"), inter_b);
    ASSERT_EQ(enroll(chain.intermediate.der, "secondary").size(), 1u);
    auto b = enroll(inter_b.der, "secondary");
    ASSERT_EQ(b.size(), 1u);
    // Behind anchord's back, B leaves the kernel: the policy (which trusts
    // the record) accepts leaf B, the kernel will not.
    ASSERT_EQ(keyctl_unlink(serial_of(b[0]), keyring_property<int32_t>("secondary", "Serial")), 0);
    const auto state_before = state::StateStore(state_dir()).load();

    std::string message;
    auto name = error_name_of([&] { enroll(bundle_of({&chain.leaf, &leaf_b}), "ima"); }, &message);
    EXPECT_EQ(name, error_name(ErrorCode::KernelRejected)) << message;
    EXPECT_NE(message.find("ENOKEY"), std::string::npos) << message;
    EXPECT_TRUE(kernel_keys("ima").empty()) << "leaf A, linked first, must be unlinked again";
    EXPECT_EQ(state::StateStore(state_dir()).load(), state_before)
        << "the write-ahead intents are settled and nothing else is saved";

    auto results = enroll(bundle_of({&chain.leaf, &leaf_b}), "ima", /*partial=*/true);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_TRUE(accepted_of(results[0]));
    EXPECT_FALSE(accepted_of(results[1]));
    EXPECT_EQ(kernel_errno_of(results[1]), "ENOKEY");
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{fp(chain.leaf)});
}

// Signals, with a connection of the test's own pumped by hand (no thread).
TEST_F(AnchordTest, DriftIsFoundByTheTimerAnnouncedAndReconciled) {
    extra_args_ = {"--drift-interval", "1"};
    ASSERT_TRUE(start_daemon());
    auto watcher = sdbus::createSessionBusConnectionWithAddress(bus_->address());
    auto root = sdbus::createProxy(*watcher, kBusName, kManagerPath);
    auto ima = sdbus::createProxy(*watcher, kBusName, std::string(kKeyringPathPrefix) + "ima");
    std::vector<std::tuple<std::string, std::string, int32_t>> enrolled;
    std::vector<std::vector<BusQuad>> detected;
    std::vector<bool> compliance;  // each Compliant value announced
    int keys_changed = 0;
    int keys_sent_whole = 0;  // the XML says "invalidates": the value never rides along
    root->uponSignal("KeyEnrolled")
        .onInterface(kManagerInterface)
        .call([&](const std::string& k, const std::string& f, int32_t serial) {
            enrolled.emplace_back(k, f, serial);
        });
    root->uponSignal("DriftDetected")
        .onInterface(kManagerInterface)
        .call([&](const std::vector<BusQuad>& drift) { detected.push_back(drift); });
    root->uponSignal("PropertiesChanged")
        .onInterface("org.freedesktop.DBus.Properties")
        .call([&](const std::string& iface, const std::map<std::string, sdbus::Variant>& changed,
                  const std::vector<std::string>&) {
            if (iface != kManagerInterface) return;
            if (auto it = changed.find("Compliant"); it != changed.end())
                compliance.push_back(it->second.get<bool>());
        });
    ima->uponSignal("PropertiesChanged")
        .onInterface("org.freedesktop.DBus.Properties")
        .call([&](const std::string& iface, const std::map<std::string, sdbus::Variant>& changed,
                  const std::vector<std::string>& invalidated) {
            if (iface != kKeyringInterface) return;
            if (changed.contains("Keys")) ++keys_sent_whole;
            if (std::find(invalidated.begin(), invalidated.end(), "Keys") != invalidated.end())
                ++keys_changed;
        });
    root->finishRegistration();
    ima->finishRegistration();
    auto pump_until = [&](const std::function<bool()>& done) {
        return eventually([&] {
            while (watcher->processPendingRequest()) {
            }
            return done();
        });
    };

    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    auto leaf = enroll(pki_.chain.leaf.der, "ima");
    ASSERT_EQ(leaf.size(), 1u);
    EXPECT_TRUE(pump_until([&] {
        return std::find(enrolled.begin(), enrolled.end(),
                         std::tuple<std::string, std::string, int32_t>(
                             "ima", fp(pki_.chain.leaf), serial_of(leaf[0]))) != enrolled.end();
    })) << "no KeyEnrolled for the leaf";
    EXPECT_TRUE(pump_until([&] { return keys_changed > 0; }))
        << "no PropertiesChanged invalidating the ima keyring's Keys";
    EXPECT_EQ(keys_sent_whole, 0) << "Keys was sent whole in PropertiesChanged";

    // The leaf vanishes behind anchord's back; the timer notices.
    ASSERT_EQ(keyctl_unlink(serial_of(leaf[0]), keyring_property<int32_t>("ima", "Serial")), 0);
    EXPECT_TRUE(pump_until([&] { return !compliance.empty() && !compliance.back(); }))
        << "Compliant did not turn false";
    EXPECT_TRUE(pump_until([&] { return !detected.empty(); })) << "no DriftDetected";
    ASSERT_FALSE(detected.empty());
    ASSERT_EQ(detected.back().size(), 1u);
    EXPECT_EQ(detected.back()[0].get<0>(), "ima");
    EXPECT_EQ(detected.back()[0].get<1>(), fp(pki_.chain.leaf));
    EXPECT_EQ(detected.back()[0].get<2>(), "missing");
    EXPECT_FALSE(manager_property<bool>("Compliant"));

    // Reconcile puts it back.
    std::vector<BusQuad> drift;
    manager_->callMethod("Reconcile").onInterface(kManagerInterface).storeResultsTo(drift);
    EXPECT_TRUE(drift.empty());
    EXPECT_TRUE(manager_property<bool>("Compliant"));
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{fp(pki_.chain.leaf)});
    EXPECT_TRUE(pump_until([&] { return !compliance.empty() && compliance.back(); }))
        << "Compliant did not turn true";

    // A key anchord did not enroll is "foreign".
    auto stranger = make_signed(signing_spec("stranger"), pki_.chain.intermediate);
    ASSERT_GT(add_key("asymmetric", nullptr, stranger.der.data(), stranger.der.size(),
                      keyring_property<int32_t>("ima", "Serial")),
              0);
    manager_->callMethod("Reconcile").onInterface(kManagerInterface).storeResultsTo(drift);
    ASSERT_EQ(drift.size(), 1u);
    EXPECT_EQ(drift[0].get<0>(), "ima");
    EXPECT_EQ(drift[0].get<2>(), "foreign");
    EXPECT_EQ(fingerprints("ima", "foreign").size(), 1u);
}

// Keys answers from what it last worked out while neither the state nor
// the keyring changed: a key linked or unlinked behind anchord's back (no
// state change, no Reconcile) must still show at the next read.
TEST_F(AnchordTest, TheKeysPropertyFollowsTheKernelBetweenChanges) {
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    auto leaf = enroll(pki_.chain.leaf.der, "ima");
    ASSERT_EQ(leaf.size(), 1u);
    const auto ima = keyring_property<int32_t>("ima", "Serial");
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(keys("ima").size(), 1u);
        EXPECT_EQ(fingerprints("ima"), std::set<std::string>{fp(pki_.chain.leaf)});
    }

    auto stranger = make_signed(signing_spec("stranger"), pki_.chain.intermediate);
    const key_serial_t linked =
        add_key("asymmetric", nullptr, stranger.der.data(), stranger.der.size(), ima);
    ASSERT_GT(linked, 0) << std::strerror(errno);
    EXPECT_EQ(keys("ima").size(), 2u);
    EXPECT_EQ(fingerprints("ima", "foreign").size(), 1u);

    ASSERT_EQ(keyctl_unlink(serial_of(leaf[0]), ima), 0);
    const auto left = keys("ima");
    ASSERT_EQ(left.size(), 1u);
    EXPECT_EQ(left[0].get<0>(), linked);
    EXPECT_EQ(left[0].get<3>(), "foreign");
    EXPECT_TRUE(fingerprints("ima").empty());
}

TEST_F(AnchordTest, InterruptedOperationsAreSettledAtStart) {
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    ASSERT_EQ(enroll(pki_.chain.leaf.der, "ima").size(), 1u);
    ASSERT_EQ(stop_daemon(), 0);

    // As if anchord died in the middle of a removal and of an enrollment.
    state::StateStore store(state_dir());
    auto state = store.load();
    state.add_intent({Fingerprint::of_der(pki_.chain.leaf.der), LogicalKeyring::Ima,
                      state::IntentAction::Unlink});
    state.add_intent(
        {Fingerprint::of_der(pki_.rogue.der), LogicalKeyring::Ima, state::IntentAction::Link});
    store.save(state);

    new_session_keyring();
    ASSERT_TRUE(start_daemon());
    auto settled = store.load();
    EXPECT_TRUE(settled.pending.empty());
    EXPECT_EQ(settled.find(Fingerprint::of_der(pki_.chain.leaf.der), LogicalKeyring::Ima), nullptr)
        << "the interrupted removal must be finished";
    EXPECT_NE(
        settled.find(Fingerprint::of_der(pki_.chain.intermediate.der), LogicalKeyring::Secondary),
        nullptr);
    EXPECT_TRUE(fingerprints("ima").empty());
    EXPECT_TRUE(kernel_keys("ima").empty());
    EXPECT_TRUE(manager_property<bool>("Compliant"));
}

TEST_F(AnchordTest, TheWatchdogIsFedWhenAsked) {
    extra_env_ = {"WATCHDOG_USEC=400000"};
    ASSERT_TRUE(start_daemon());
    EXPECT_TRUE(notify_->wait_for("WATCHDOG=1"));
}

// --- restart ---------------------------------------------------------------------

TEST_F(AnchordTest, ARestartWithEmptiedKeyringsReappliesEverything) {
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    ASSERT_EQ(enroll(pki_.chain.leaf.der, "ima").size(), 1u);
    ASSERT_EQ(stop_daemon(), 0);

    new_session_keyring();  // as after a reboot: nothing of the old keyrings is reachable
    ASSERT_TRUE(start_daemon());
    EXPECT_EQ(fingerprints("secondary"), std::set<std::string>{fp(pki_.chain.intermediate)});
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{fp(pki_.chain.leaf)});
    EXPECT_EQ(kernel_keys("ima").size(), 1u);
    EXPECT_TRUE(manager_property<bool>("Compliant"));
    EXPECT_TRUE(manager_property<std::vector<BusQuad>>("Drift").empty());
}

// --- drop-in provisioning ----------------------------------------------------------

TEST_F(AnchordTest, DropinProvisioningEnrollsOnceAndIsIdempotent) {
    fs::create_directories(dropin_dir() / "secondary");
    fs::create_directories(dropin_dir() / "ima");
    fs::create_directories(dir_ / "elsewhere");
    const auto inter_path = dropin_dir() / "secondary" / "intermediate.pem";
    const auto leaf_path = dropin_dir() / "ima" / "leaf.der";
    const auto rogue_path = dropin_dir() / "ima" / "rogue.pem";
    write_bytes(inter_path, pki_.chain.intermediate.pem_bytes());
    write_bytes(dir_ / "elsewhere" / "leaf.der", pki_.chain.leaf.der);
    fs::create_symlink(dir_ / "elsewhere" / "leaf.der", leaf_path);
    write_bytes(rogue_path, pki_.rogue.pem_bytes());

    using Provisioned = std::pair<std::string, std::string>;  // (keyring, outcome)
    auto outcomes = [&] {
        std::map<std::string, std::pair<std::string, std::string>>
            out;  // path -> (keyring, outcome)
        for (const auto& p : manager_property<std::vector<BusQuad>>("Provisioning")) {
            out[p.get<0>()] = {p.get<1>(), p.get<2>()};
        }
        return out;
    };

    ASSERT_TRUE(start_daemon());
    auto first = outcomes();
    ASSERT_EQ(first.size(), 3u);
    EXPECT_EQ(first[inter_path.string()], Provisioned("secondary", "enrolled"));
    EXPECT_EQ(first[leaf_path.string()], Provisioned("ima", "enrolled"));
    EXPECT_EQ(first[rogue_path.string()], Provisioned("ima", "refused"));
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{fp(pki_.chain.leaf)});
    auto state = state::StateStore(state_dir()).load();
    ASSERT_EQ(state.records.size(), 2u);
    const auto* leaf_record =
        state.find(Fingerprint::of_der(pki_.chain.leaf.der), LogicalKeyring::Ima);
    ASSERT_NE(leaf_record, nullptr);
    EXPECT_EQ(leaf_record->origin, state::Origin::Dropin);
    EXPECT_EQ(leaf_record->caller_uid, 0u);
    ASSERT_EQ(stop_daemon(), 0);

    new_session_keyring();
    ASSERT_TRUE(start_daemon());
    auto second = outcomes();
    EXPECT_EQ(second[inter_path.string()].second, "already-enrolled");
    EXPECT_EQ(second[leaf_path.string()].second, "already-enrolled");
    EXPECT_EQ(second[rogue_path.string()].second, "refused");
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{fp(pki_.chain.leaf)});
    EXPECT_EQ(kernel_keys("ima").size(), 1u);
    EXPECT_EQ(state::StateStore(state_dir()).load().records.size(), 2u);
}

// --- refusing to start -------------------------------------------------------------

TEST_F(AnchordTest, ACorruptStateFileStopsStartUpAndIsLeftUntouched) {
    fs::create_directories(state_dir());
    const std::string corrupt = "{\"version\": 1, \"records\": [ {\"fingerprint\": 42 ";
    write_text(state_file(), corrupt);
    EXPECT_NE(run_to_exit(), 0);
    EXPECT_EQ(read_text(state_file()), corrupt);
    EXPECT_NE(read_text(log_file()).find(state_file().string()), std::string::npos)
        << "the message must name the state file";

    const std::string future =
        "{\"version\": 99, \"records\": [], \"sealed\": [], \"pending\": []}";
    write_text(state_file(), future);
    EXPECT_NE(run_to_exit(), 0);
    EXPECT_EQ(read_text(state_file()), future);
}

TEST_F(AnchordTest, ABrokenPolicyStopsStartUpNamingTheFileAndField) {
    auto text = std::string(default_policy_text());
    auto ima = text.find("\"ima\": {");
    ASSERT_NE(ima, std::string::npos);
    auto role = text.find("\"role\": \"signing\"", ima);
    ASSERT_NE(role, std::string::npos);
    text.replace(role, std::string("\"role\": \"signing\"").size(), "\"role\": \"banana\"");
    write_text(policy_file(), text);
    EXPECT_NE(run_to_exit(), 0);
    auto log = read_text(log_file());
    EXPECT_NE(log.find(policy_file().string()), std::string::npos)
        << "the message must name the file";
    EXPECT_NE(log.find("/keyrings/ima/role"), std::string::npos)
        << "the message must name the field";
}

// --- authorization -----------------------------------------------------------------

TEST_F(AnchordTest, AnUnprivilegedCallerIsDeniedChangesButMayRead) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to run a caller as another uid";
    ASSERT_TRUE(start_daemon());
    const auto address = bus_->address();
    const auto leaf = pki_.chain.leaf.der;
    // The caller: a child running as nobody. Exit codes say what went wrong.
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        int code = 0;
        try {
            if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
                ::setresuid(65534, 65534, 65534) != 0) {
                ::_exit(10);
            }
            auto bus = sdbus::createSessionBusConnectionWithAddress(address);
            auto proxy = sdbus::createProxy(*bus, kBusName, kManagerPath);
            std::string denied = error_name_of([&] {
                std::vector<BusResult> r;
                proxy->callMethod("Enroll")
                    .onInterface(kManagerInterface)
                    .withArguments(leaf, std::string("ima"),
                                   std::map<std::string, sdbus::Variant>{})
                    .storeResultsTo(r);
            });
            if (denied != dbus_error_name(ErrorCode::AccessDenied)) code = 11;
            std::string seal = error_name_of([&] {
                proxy->callMethod("Seal")
                    .onInterface(kManagerInterface)
                    .withArguments(std::string("ima"));
            });
            if (code == 0 && seal != dbus_error_name(ErrorCode::AccessDenied)) code = 12;
            std::string others[] = {
                error_name_of([&] {
                    proxy->callMethod("Remove")
                        .onInterface(kManagerInterface)
                        .withArguments(Fingerprint::of_der(leaf).to_string(), std::string("ima"));
                }),
                error_name_of(
                    [&] { proxy->callMethod("Reconcile").onInterface(kManagerInterface); }),
                error_name_of(
                    [&] { proxy->callMethod("ReloadPolicy").onInterface(kManagerInterface); }),
            };
            for (const auto& name : others) {
                if (code == 0 && name != dbus_error_name(ErrorCode::AccessDenied)) code = 15;
            }
            std::vector<BusResult> verified;
            proxy->callMethod("Verify")
                .onInterface(kManagerInterface)
                .withArguments(leaf, std::string("ima"))
                .storeResultsTo(verified);
            if (code == 0 && verified.size() != 1) code = 13;
            auto mode =
                proxy->getProperty("Mode").onInterface(kManagerInterface).get<std::string>();
            if (code == 0 && mode != "sandbox") code = 14;
        } catch (...) {
            code = 20;
        }
        ::_exit(code);
    }
    int status = 0;
    bool done = eventually([&] { return ::waitpid(child, &status, WNOHANG) == child; });
    if (!done) {
        ::kill(child, SIGKILL);
        ::waitpid(child, &status, 0);
    }
    ASSERT_TRUE(done) << "the unprivileged caller did not finish";
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << "11: Enroll not denied, 12: Seal not denied, 13: Verify failed, "
           "14: property unreadable, 15: Remove/Reconcile/ReloadPolicy not denied, "
           "20: exception, 10: setresuid failed";
    EXPECT_TRUE(kernel_keys("ima").empty());
}

// --- the served API equals the XML --------------------------------------------------

// interface -> its members, one string each ("method Verify ay,s -> a(...)").
using ApiShape = std::map<std::string, std::set<std::string>>;

ApiShape parse_api(const std::string& xml_in) {
    std::string xml = std::regex_replace(xml_in, std::regex("<!--[\\s\\S]*?-->"), "");
    ApiShape shape;
    std::regex tag("<(/?)([A-Za-z]+)([^>]*?)(/?)>");
    std::regex attr("([a-z_]+)=\"([^\"]*)\"");
    auto attrs_of = [&](const std::string& text) {
        std::map<std::string, std::string> out;
        for (std::sregex_iterator it(text.begin(), text.end(), attr), end; it != end; ++it) {
            out[(*it)[1]] = (*it)[2];
        }
        return out;
    };
    std::string iface, member_kind, member_name, ins, outs;
    auto close_member = [&] {
        if (member_kind.empty()) return;
        shape[iface].insert(member_kind + " " + member_name + " " + ins + " -> " + outs);
        member_kind.clear();
    };
    for (std::sregex_iterator it(xml.begin(), xml.end(), tag), end; it != end; ++it) {
        bool closing = (*it)[1] == "/";
        std::string name = (*it)[2];
        bool self_closing = (*it)[4] == "/";
        auto a = attrs_of((*it)[3]);
        if (name == "interface") {
            if (closing) {
                iface.clear();
            } else {
                iface = a["name"];
                shape[iface];
            }
        } else if ((name == "method" || name == "signal") && !iface.empty()) {
            if (closing) {
                close_member();
            } else {
                member_kind = name;
                member_name = a["name"];
                ins.clear();
                outs.clear();
                if (self_closing) close_member();
            }
        } else if (name == "arg" && !member_kind.empty()) {
            bool out = a["direction"] == "out";
            auto& list = out ? outs : ins;
            list += (list.empty() ? "" : ",") + a["type"];
        } else if (name == "property" && !iface.empty() && !closing) {
            shape[iface].insert("property " + a["name"] + " " + a["type"] + " " + a["access"]);
        }
    }
    return shape;
}

TEST_F(AnchordTest, LiveIntrospectionEqualsTheXml) {
    ASSERT_TRUE(start_daemon());
    auto documented =
        parse_api(read_text(fs::path(ANCHORD_SOURCE_DIR) / "systemd" / "io.github.anchord1.xml"));
    ASSERT_EQ(documented.size(), 2u);

    auto introspect = [&](const std::string& path) {
        auto proxy = sdbus::createProxy(*connection_, kBusName, path);
        std::string xml;
        proxy->callMethod("Introspect")
            .onInterface("org.freedesktop.DBus.Introspectable")
            .storeResultsTo(xml);
        return parse_api(xml);
    };
    // Looked up by the shared names: a misspelt one would find nothing on
    // either side and compare equal.
    ASSERT_TRUE(documented.contains(kManagerInterface));
    ASSERT_TRUE(documented.contains(kKeyringInterface));
    auto root = introspect(kManagerPath);
    auto ima = introspect(std::string(kKeyringPathPrefix) + "ima");
    EXPECT_EQ(root[kManagerInterface], documented[kManagerInterface]);
    EXPECT_EQ(ima[kKeyringInterface], documented[kKeyringInterface]);
    EXPECT_TRUE(root.contains("org.freedesktop.DBus.ObjectManager"));
    EXPECT_FALSE(root.contains(kKeyringInterface));

    // The ObjectManager lists one keyring object per logical keyring.
    auto proxy = sdbus::createProxy(*connection_, kBusName, kManagerPath);
    std::map<sdbus::ObjectPath, std::map<std::string, std::map<std::string, sdbus::Variant>>>
        objects;
    proxy->callMethod("GetManagedObjects")
        .onInterface("org.freedesktop.DBus.ObjectManager")
        .storeResultsTo(objects);
    EXPECT_EQ(objects.size(), kAllLogicalKeyrings.size());
    for (auto k : kAllLogicalKeyrings) {
        auto path = std::string(kKeyringPathPrefix) + std::string(to_string(k));
        EXPECT_TRUE(objects.contains(sdbus::ObjectPath(path))) << path;
    }
}

// include/anchord/bus_api.hpp spells what the XML and the systemd files name.
TEST(BusApi, ItsNamesAreTheOnesTheXmlAndTheSystemdFilesUse) {
    const fs::path systemd = fs::path(ANCHORD_SOURCE_DIR) / "systemd";
    const auto xml = read_text(systemd / "io.github.anchord1.xml");
    const auto api = parse_api(xml);
    EXPECT_TRUE(api.contains(kManagerInterface));
    EXPECT_TRUE(api.contains(kKeyringInterface));
    EXPECT_EQ(std::string_view(kKeyringPathPrefix), std::string(kManagerPath) + "/keyring/");
    // Enroll's documentation names each option with its type.
    for (const char* option : {bus_api::kPartialOption, bus_api::kBriefOption}) {
        EXPECT_NE(xml.find("\"" + std::string(option) + "\" (b"), std::string::npos) << option;
    }
    EXPECT_NE(read_text(systemd / "io.github.anchord1.service")
                  .find("Name=" + std::string(kBusName) + "\n"),
              std::string::npos);
    EXPECT_NE(read_text(systemd / "io.github.anchord1.conf")
                  .find("<allow own=\"" + std::string(kBusName) + "\"/>"),
              std::string::npos);
}

// --- policy reload ------------------------------------------------------------------

TEST_F(AnchordTest, SighupReloadsAChangedPolicyAndABrokenOneKeepsTheOld) {
    ASSERT_TRUE(start_daemon());
    auto before = manager_property<std::string>("PolicyDigest");
    auto text = std::string(default_policy_text());
    auto skew = text.find("\"clock_skew\": 300");
    ASSERT_NE(skew, std::string::npos);
    text.replace(skew, std::string("\"clock_skew\": 300").size(), "\"clock_skew\": 301");
    write_text(policy_file(), text);
    const auto expected =
        "sha256:" +
        Sha256::of(ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size())).hex();
    ASSERT_NE(expected, before);

    ASSERT_EQ(::kill(pid_, SIGHUP), 0);
    EXPECT_TRUE(
        eventually([&] { return manager_property<std::string>("PolicyDigest") != before; }));
    EXPECT_EQ(manager_property<std::string>("PolicyDigest"), expected);

    // A broken file: the call fails with InvalidPolicy and the policy stays.
    write_text(policy_file(), "{ \"version\": 1, ");
    EXPECT_EQ(
        error_name_of([&] { manager_->callMethod("ReloadPolicy").onInterface(kManagerInterface); }),
        error_name(ErrorCode::InvalidPolicy));
    EXPECT_EQ(manager_property<std::string>("PolicyDigest"), expected);
    std::string json, digest;
    manager_->callMethod("GetPolicy").onInterface(kManagerInterface).storeResultsTo(json, digest);
    EXPECT_EQ(digest, expected);
    EXPECT_FALSE(json.empty());
}

// The kernel's .blacklist joins the policy's denylist: in the sandbox its
// stand-in is the keyring "anchord:blacklist" of "tbs:HEX" user keys, which
// anchord reads at every call, as it reads .blacklist on a real system.
TEST_F(AnchordTest, ACertificateInTheKernelsBlacklistIsRefusedByThePolicy) {
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    auto before = verify(pki_.chain.leaf.der, "ima");
    ASSERT_EQ(before.size(), 1u);
    ASSERT_TRUE(accepted_of(before[0]));

    key_serial_t blacklist =
        keyctl_search(KEY_SPEC_SESSION_KEYRING, "keyring", "anchord:blacklist", 0);
    ASSERT_GT(blacklist, 0) << std::strerror(errno);
    auto tbs = parse_der_certificate(pki_.chain.leaf.der).info().tbs_sha256;
    auto description = "tbs:" + tbs.hex();
    ASSERT_GT(add_key("user", description.c_str(), tbs.bytes.data(), tbs.bytes.size(), blacklist),
              0)
        << std::strerror(errno);

    auto has_failed = [](const BusResult& r, const std::string& id) {
        for (const auto& c : checks_of(r))
            if (c.get<0>() == id && c.get<1>() == "fail") return true;
        return false;
    };
    auto after = verify(pki_.chain.leaf.der, "ima");
    ASSERT_EQ(after.size(), 1u);
    EXPECT_FALSE(accepted_of(after[0]));
    EXPECT_TRUE(has_failed(after[0], "deny.kernel-blacklist"));

    std::string message;
    EXPECT_EQ(error_name_of([&] { enroll(pki_.chain.leaf.der, "ima"); }, &message),
              error_name(ErrorCode::PolicyRejected));
    EXPECT_NE(message.find("deny.kernel-blacklist"), std::string::npos) << message;
    EXPECT_TRUE(kernel_keys("ima").empty());
    EXPECT_TRUE(fingerprints("ima").empty());

    // Another certificate of the same chain is not affected.
    auto other = make_signed(signing_spec("other leaf"), pki_.chain.intermediate);
    EXPECT_EQ(enroll(other.der, "ima").size(), 1u);
}

// A keyring the kernel seals by its permissions refuses unlinks too: the
// removal fails with Sealed and leaves no write-ahead intent behind, so the
// next start does not finish it as if the key were gone.
TEST_F(AnchordTest, RemoveOnAKeyringSealedByItsPermissionsChangesNothing) {
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    ASSERT_EQ(enroll(pki_.chain.leaf.der, "ima").size(), 1u);
    bool kernel_enforced = false;
    manager_->callMethod("Seal")
        .onInterface(kManagerInterface)
        .withArguments(std::string("ima"))
        .storeResultsTo(kernel_enforced);
    ASSERT_TRUE(kernel_enforced);
    const auto ima_before = kernel_keys("ima");
    ASSERT_EQ(ima_before.size(), 1u);

    EXPECT_EQ(error_name_of([&] {
                  manager_->callMethod("Remove")
                      .onInterface(kManagerInterface)
                      .withArguments(fp(pki_.chain.leaf), std::string("ima"));
              }),
              error_name(ErrorCode::Sealed));
    EXPECT_EQ(kernel_keys("ima"), ima_before);
    auto state = state::StateStore(state_dir()).load();
    EXPECT_TRUE(state.pending.empty());
    EXPECT_NE(state.find(Fingerprint::of_der(pki_.chain.leaf.der), LogicalKeyring::Ima), nullptr);

    // The record is kept: after a restart (the sandbox is built anew) the
    // key is linked again.
    ASSERT_EQ(stop_daemon(), 0);
    ASSERT_TRUE(start_daemon());
    EXPECT_EQ(kernel_keys("ima").size(), 1u);
    EXPECT_EQ(fingerprints("ima"), std::set<std::string>{fp(pki_.chain.leaf)});
    EXPECT_TRUE(manager_property<bool>("Compliant"));
}

}  // namespace
}  // namespace anchord::testing
