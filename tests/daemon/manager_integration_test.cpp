// The manager driven directly, without a bus: a real sandbox of kernel
// keyrings in the test's session keyring, a real state store in a temporary
// folder, the default policy.
#include <gtest/gtest.h>
#include <keyutils.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "anchord/certificate.hpp"
#include "anchord/policy.hpp"
#include "keyring/keyrings.hpp"
#include "manager/manager.hpp"
#include "state/state_store.hpp"
#include "test_pki.hpp"

namespace anchord::testing {
namespace {

namespace fs = std::filesystem;
using manager::Manager;

void write_file(const fs::path& file, ByteView bytes) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
}

Bytes pem_bundle(const std::vector<TestCert>& certs) {
    Bytes out;
    for (const auto& c : certs) {
        auto pem = c.pem_bytes();
        out.insert(out.end(), pem.begin(), pem.end());
    }
    return out;
}

Bytes pem_bundle(std::initializer_list<const TestCert*> certs) {
    std::vector<TestCert> copies;
    for (const auto* c : certs) copies.push_back(*c);
    return pem_bundle(copies);
}

// Records what the manager announces; reads the manager back from inside
// the callback, which deadlocks if the manager calls listeners under a lock.
// Records what the manager announces; reads the manager back from inside
// the callback, which deadlocks if the manager calls listeners under a lock.
// Deliveries of different calls may run at once: the records are locked.
class RecordingListener : public manager::Listener {
  public:
    explicit RecordingListener(const Manager*& manager) : manager_(manager) {}
    void key_enrolled(LogicalKeyring k, const Fingerprint& fp, KeySerial serial) override {
        auto held = manager_->keys(k)->size();
        std::lock_guard lock(mutex);
        enrolled.push_back({k, fp, serial});
        keys_seen_in_callback += held;
    }
    void key_removed(LogicalKeyring, const Fingerprint& fp) override {
        std::lock_guard lock(mutex);
        removed.push_back(fp);
    }
    void keyring_sealed(LogicalKeyring k, bool) override {
        std::lock_guard lock(mutex);
        sealed.push_back(k);
    }
    void keys_changed(LogicalKeyring k) override {
        std::lock_guard lock(mutex);
        changed.push_back(k);
    }
    void policy_changed() override {
        std::lock_guard lock(mutex);
        ++policies;
    }
    void drift_changed(const std::vector<manager::DriftEntry>&, bool) override {
        bool compliant = manager_->compliant();
        std::lock_guard lock(mutex);
        compliant_seen.push_back(compliant);
    }

    struct Enrolled {
        LogicalKeyring keyring;
        Fingerprint fingerprint;
        KeySerial serial;
    };
    std::mutex mutex;
    std::vector<Enrolled> enrolled;
    std::vector<Fingerprint> removed;
    std::vector<LogicalKeyring> sealed;
    std::vector<LogicalKeyring> changed;
    std::vector<bool> compliant_seen;
    int policies = 0;
    std::size_t keys_seen_in_callback = 0;

  private:
    const Manager*& manager_;
};

class ManagerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_GT(keyctl_join_session_keyring(nullptr), 0);
        char templ[] = "/tmp/anchord-manager-test.XXXXXX";
        ASSERT_NE(::mkdtemp(templ), nullptr);
        dir_ = templ;
        auto text = std::string(default_policy_text());
        write_file(policy_file(),
                   ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
        make_manager();
    }

    void TearDown() override {
        if (manager_) manager_->set_listener(nullptr);
        manager_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    void make_manager() {
        std::vector<Certificate> anchors{parse_der_certificate(chain_.root.der)};
        state::StateStore store(state_dir());
        auto state = store.load();
        manager_.reset();
        manager_ = std::make_unique<Manager>(manager::ManagerSetup{
            policy_file(), load_policy(), keyring::Keyrings::sandbox(anchors),
            keyring::detect_kernel_profile(), std::move(store), std::move(state), anchors});
        reader_ = manager_.get();
        manager_->set_listener(&listener_);
        manager_->restore();
        manager_->refresh_drift();
    }

    Policy load_policy() const { return manager::load_policy_file(policy_file()); }

    fs::path policy_file() const { return dir_ / "policy.json"; }
    fs::path state_dir() const { return dir_ / "state"; }

    std::set<Fingerprint> anchord_keys(LogicalKeyring k) const {
        std::set<Fingerprint> out;
        for (const auto& key : *manager_->keys(k)) {
            if (key.origin == manager::KeyOrigin::Anchord && key.fingerprint)
                out.insert(*key.fingerprint);
        }
        return out;
    }

    static Fingerprint fp(const TestCert& c) { return Fingerprint::of_der(c.der); }

    // An intermediate enrolled into secondary, then unlinked behind
    // anchord's back: recorded, so the policy trusts what it signs; gone
    // from the kernel, which refuses that (ENOKEY).
    TestCert unlinked_intermediate() {
        TestCert gone = make_signed(ca_spec("unlinked intermediate"), chain_.root);
        auto enrolled = manager_->enroll(gone.der, "secondary", {}, root_);
        EXPECT_EQ(enrolled.size(), 1u);
        if (enrolled.size() == 1u) {
            EXPECT_EQ(keyctl_unlink(enrolled[0].serial.value,
                                    manager_->keyring(LogicalKeyring::Secondary).serial.value),
                      0);
        }
        return gone;
    }

    Chain chain_ = make_chain();
    fs::path dir_;
    std::unique_ptr<Manager> manager_;
    const Manager* reader_ = nullptr;
    RecordingListener listener_{reader_};
    manager::Requester root_{0, ":1.1"};
};

TEST_F(ManagerTest, VerifyAsksTheKernelEvenWhenThePolicyRefuses) {
    auto rogue = make_self_signed(signing_spec("rogue"));
    auto results = manager_->verify(rogue.der, "ima");
    ASSERT_EQ(results.size(), 1u);
    EXPECT_FALSE(results[0].accepted);
    EXPECT_FALSE(results[0].kernel.accepted);
    EXPECT_EQ(results[0].kernel.error_name, "ENOKEY");
    EXPECT_TRUE(std::any_of(results[0].checks.begin(), results[0].checks.end(),
                            [](const Check& c) { return c.outcome == Outcome::Fail; }));
    EXPECT_EQ(results[0].serial.value, 0);
    EXPECT_TRUE(manager_->keys(LogicalKeyring::Ima)->empty());
}

TEST_F(ManagerTest, VerifyGivesUnreadableBytesToTheKernelToo) {
    // Neither DER anchord reads nor PEM: random bytes, and a certificate
    // whose outer SEQUENCE tag is a SET. The reader's failure and the
    // kernel's parser's answer stand side by side in one result each.
    Bytes random_bytes(600);
    for (std::size_t i = 0; i < random_bytes.size(); ++i)
        random_bytes[i] = static_cast<std::uint8_t>((i * 7919 + 13) % 251 + 1);
    random_bytes[0] = 0x01;
    Bytes wrong_tag = chain_.leaf.der;
    wrong_tag[0] = 0x31;
    for (const Bytes* input : {&random_bytes, &wrong_tag}) {
        auto results = manager_->verify(*input, "ima");
        ASSERT_EQ(results.size(), 1u);
        const auto& r = results[0];
        EXPECT_EQ(r.index, 0u);
        EXPECT_FALSE(r.fingerprint.has_value());
        EXPECT_FALSE(r.accepted);
        ASSERT_EQ(r.checks.size(), 1u);
        EXPECT_EQ(r.checks[0].id, "certificate.readable");
        EXPECT_EQ(r.checks[0].outcome, Outcome::Fail);
        EXPECT_FALSE(r.kernel.accepted);
        EXPECT_EQ(r.kernel.error_name, "EBADMSG");
    }
    EXPECT_TRUE(manager_->keys(LogicalKeyring::Ima)->empty());
}

TEST_F(ManagerTest, ABundleMayChainOnItsOwnEarlierCertificates) {
    // root -> intermediate -> sub-intermediate, both CAs into secondary in one call.
    auto sub = make_signed(ca_spec("sub intermediate"), chain_.intermediate);
    auto results =
        manager_->enroll(pem_bundle({&chain_.intermediate, &sub}), "secondary", {}, root_);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_TRUE(results[0].accepted);
    EXPECT_TRUE(results[1].accepted);
    EXPECT_EQ(anchord_keys(LogicalKeyring::Secondary),
              (std::set<Fingerprint>{fp(chain_.intermediate), fp(sub)}));
}

// Large batches stream: the kernel links each part while the next ones are
// judged (of 60: positions 0-7, 8-23, 24-55, then 56-59).
std::vector<TestCert> batch_of_leaves(const std::string& name, const TestCert& issuer,
                                      std::size_t count = 60) {
    std::vector<TestCert> certs;
    for (std::size_t i = 0; i < count; ++i)
        certs.push_back(make_signed(signing_spec(name + " " + std::to_string(i)), issuer,
                                    i % 4 ? KeyType::P256 : KeyType::Rsa2048));
    return certs;
}

TEST_F(ManagerTest, ALargeBatchOfLeavesGetsEachItsOwnVerdict) {
    // A rogue in the first part and a CA in the last but one, which the
    // policy refuses: each result must still be its own certificate's.
    ASSERT_EQ(manager_->enroll(chain_.intermediate.der, "secondary", {}, root_).size(), 1u);
    auto certs = batch_of_leaves("batch leaf", chain_.intermediate);
    certs[5] = make_self_signed(signing_spec("batch rogue"));
    certs[45] = make_signed(ca_spec("batch CA"), chain_.intermediate);
    auto results = manager_->enroll(pem_bundle(certs), "ima", {.partial = true}, root_);
    ASSERT_EQ(results.size(), certs.size());
    std::set<Fingerprint> expected;
    for (std::size_t i = 0; i < certs.size(); ++i) {
        SCOPED_TRACE("certificate " + std::to_string(i));
        EXPECT_EQ(results[i].index, i);
        EXPECT_EQ(results[i].fingerprint, fp(certs[i]));
        const bool refused = i == 5 || i == 45;
        EXPECT_EQ(results[i].accepted, !refused);
        EXPECT_EQ(std::any_of(results[i].checks.begin(), results[i].checks.end(),
                              [](const Check& c) { return c.outcome == Outcome::Fail; }),
                  refused);
        if (!refused) expected.insert(fp(certs[i]));
    }
    EXPECT_EQ(anchord_keys(LogicalKeyring::Ima), expected);
    auto saved = state::StateStore(state_dir()).load();
    EXPECT_EQ(saved.records.size(), 1 + expected.size());
    EXPECT_TRUE(saved.pending.empty()) << "write-ahead intents left behind";
}

TEST_F(ManagerTest, ARefusalInALaterPartOfABatchUndoesTheLinksBeforeIt) {
    ASSERT_EQ(manager_->enroll(chain_.intermediate.der, "secondary", {}, root_).size(), 1u);
    const auto before = state::StateStore(state_dir()).load();
    auto expect_nothing_changed = [&] {
        EXPECT_TRUE(anchord_keys(LogicalKeyring::Ima).empty());
        EXPECT_TRUE(manager_->keys(LogicalKeyring::Ima)->empty()) << "a key stayed linked";
        auto saved = state::StateStore(state_dir()).load();
        EXPECT_EQ(saved.records.size(), before.records.size());
        EXPECT_TRUE(saved.pending.empty()) << "write-ahead intents left behind";
    };

    // The policy refuses position 50, after the first parts were linked.
    auto certs = batch_of_leaves("policy batch", chain_.intermediate);
    certs[50] = make_self_signed(signing_spec("late rogue"));
    try {
        manager_->enroll(pem_bundle(certs), "ima", {}, root_);
        ADD_FAILURE() << "a batch with a rogue was enrolled";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::PolicyRejected);
        EXPECT_NE(std::string(e.what()).find("#51 "), std::string::npos) << e.what();  // 1-based
    }
    expect_nothing_changed();

    // The kernel refuses position 48 (ENOKEY), after 48 links.
    TestCert gone = unlinked_intermediate();
    const auto with_gone = state::StateStore(state_dir()).load();
    certs = batch_of_leaves("kernel batch", chain_.intermediate);
    certs[48] = make_signed(signing_spec("under the unlinked intermediate"), gone);
    try {
        manager_->enroll(pem_bundle(certs), "ima", {}, root_);
        ADD_FAILURE() << "a batch the kernel refuses part of was enrolled";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("ENOKEY"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(manager_->keys(LogicalKeyring::Ima)->empty()) << "a key stayed linked";
    auto saved = state::StateStore(state_dir()).load();
    EXPECT_EQ(saved.records.size(), with_gone.records.size());
    EXPECT_TRUE(saved.pending.empty()) << "write-ahead intents left behind";
}

// Keys is read by pollers: while the keyring holds the same keys under the
// same state, every reader gets the one answer made for the first; a key
// linked or unlinked behind anchord's back, or an enrollment, makes a new
// one.
TEST_F(ManagerTest, KeysIsOneSharedAnswerUntilTheKeyringOrTheStateChanges) {
    ASSERT_EQ(manager_->enroll(chain_.intermediate.der, "secondary", {}, root_).size(), 1u);
    const auto ima = manager_->keyring(LogicalKeyring::Ima).serial;
    const auto first = manager_->keys(LogicalKeyring::Ima);
    EXPECT_EQ(manager_->keys(LogicalKeyring::Ima), first);

    const auto foreign =
        ::add_key("asymmetric", nullptr, chain_.leaf.der.data(), chain_.leaf.der.size(), ima.value);
    ASSERT_GT(foreign, 0);
    const auto linked = manager_->keys(LogicalKeyring::Ima);
    ASSERT_EQ(linked->size(), first->size() + 1);
    EXPECT_EQ(linked->back().serial.value, foreign);
    EXPECT_EQ(linked->back().origin, manager::KeyOrigin::Foreign);
    EXPECT_EQ(manager_->keys(LogicalKeyring::Ima), linked);

    // Held by the session keyring meanwhile, so that it can come back.
    ASSERT_EQ(keyctl_link(foreign, KEY_SPEC_SESSION_KEYRING), 0);
    ASSERT_EQ(keyctl_unlink(foreign, ima.value), 0);
    EXPECT_EQ(manager_->keys(LogicalKeyring::Ima)->size(), first->size());
    // Linked again: the same keys as before, the same answer.
    ASSERT_EQ(keyctl_link(foreign, ima.value), 0);
    const auto again = manager_->keys(LogicalKeyring::Ima);
    ASSERT_EQ(again->size(), linked->size());
    EXPECT_EQ(again->back().serial.value, foreign);
    ASSERT_EQ(keyctl_unlink(foreign, KEY_SPEC_SESSION_KEYRING), 0);

    // Enrolled by anchord: the state changed, and so does the answer.
    const auto leaf = make_signed(signing_spec("enrolled after"), chain_.intermediate);
    ASSERT_EQ(manager_->enroll(leaf.der, "ima", {}, root_).size(), 1u);
    const auto enrolled = manager_->keys(LogicalKeyring::Ima);
    EXPECT_NE(enrolled, again);
    ASSERT_EQ(enrolled->size(), again->size() + 1);
    EXPECT_EQ(enrolled->back().origin, manager::KeyOrigin::Anchord);
}

TEST_F(ManagerTest, UndoingABatchKeepsAKeyThatWasThereBefore) {
    // The leaf is linked behind anchord's back. A batch that holds it again
    // makes the kernel replace that key with a new one; when the kernel then
    // refuses the batch's last certificate, undoing the batch must not
    // unlink the leaf's key, which was there before the call.
    ASSERT_EQ(manager_->enroll(chain_.intermediate.der, "secondary", {}, root_).size(), 1u);
    TestCert gone = unlinked_intermediate();
    const auto ima = manager_->keyring(LogicalKeyring::Ima).serial;
    ASSERT_GT(
        ::add_key("asymmetric", nullptr, chain_.leaf.der.data(), chain_.leaf.der.size(), ima.value),
        0);
    auto before = *manager_->keys(LogicalKeyring::Ima);
    ASSERT_EQ(before.size(), 1u);

    for (std::size_t size : {std::size_t{3}, std::size_t{60}}) {  // in one part and in two
        SCOPED_TRACE("a batch of " + std::to_string(size));
        auto certs =
            batch_of_leaves("undone batch " + std::to_string(size), chain_.intermediate, size);
        certs[1] = chain_.leaf;
        certs[size - 1] = make_signed(signing_spec("under the unlinked intermediate"), gone);
        EXPECT_THROW(manager_->enroll(pem_bundle(certs), "ima", {}, root_), Error);
        auto keys = *manager_->keys(LogicalKeyring::Ima);
        ASSERT_EQ(keys.size(), 1u) << "the batch's own keys stayed, or the leaf's went";
        EXPECT_EQ(keys[0].description, before[0].description);
    }
}

TEST_F(ManagerTest, ALaterPartOfABatchChainsOnTheFirst) {
    // Into secondary: a sub-CA at position 0, and at position 59 a CA that
    // it issued: judged in the last part, it must see the first.
    ASSERT_EQ(manager_->enroll(chain_.intermediate.der, "secondary", {}, root_).size(), 1u);
    std::vector<TestCert> certs;
    // RSA: this kernel cannot check what an ECDSA key signs.
    certs.push_back(make_signed(ca_spec("first part sub-CA"), chain_.intermediate));
    for (int i = 1; i < 59; ++i)
        certs.push_back(make_signed(ca_spec("sibling CA " + std::to_string(i)), chain_.intermediate,
                                    KeyType::P256));
    certs.push_back(make_signed(ca_spec("last part CA"), certs[0], KeyType::P256));
    auto results = manager_->enroll(pem_bundle(certs), "secondary", {}, root_);
    ASSERT_EQ(results.size(), certs.size());
    for (std::size_t i = 0; i < certs.size(); ++i)
        EXPECT_TRUE(results[i].accepted) << "certificate " << i;
    EXPECT_TRUE(anchord_keys(LogicalKeyring::Secondary).contains(fp(certs[59])));
}

TEST_F(ManagerTest, ACertificateTwiceInABundleIsEnrolledOnce) {
    ASSERT_EQ(manager_->enroll(chain_.intermediate.der, "secondary", {}, root_).size(), 1u);
    auto results = manager_->enroll(pem_bundle({&chain_.leaf, &chain_.leaf}), "ima", {}, root_);
    ASSERT_EQ(results.size(), 2u);
    EXPECT_TRUE(results[0].accepted && results[1].accepted);
    EXPECT_EQ(results[0].serial, results[1].serial);
    EXPECT_EQ(results[0].index, 0u);
    EXPECT_EQ(results[1].index, 1u);
    EXPECT_EQ(manager_->keys(LogicalKeyring::Ima)->size(), 1u);
    EXPECT_EQ(state::StateStore(state_dir()).load().records.size(), 2u);
}

TEST_F(ManagerTest, ListenersHearEveryChangeAfterTheLocksAreReleased) {
    ASSERT_EQ(manager_->enroll(chain_.intermediate.der, "secondary", {}, root_).size(), 1u);
    auto leaf = manager_->enroll(chain_.leaf.der, "ima", {}, root_);
    ASSERT_EQ(listener_.enrolled.size(), 2u);
    EXPECT_EQ(listener_.enrolled[1].keyring, LogicalKeyring::Ima);
    EXPECT_EQ(listener_.enrolled[1].fingerprint, fp(chain_.leaf));
    EXPECT_EQ(listener_.enrolled[1].serial, leaf[0].serial);
    EXPECT_EQ(listener_.keys_seen_in_callback, 2u);  // each callback read its keyring back
    EXPECT_NE(std::find(listener_.changed.begin(), listener_.changed.end(), LogicalKeyring::Ima),
              listener_.changed.end());

    manager_->remove(fp(chain_.leaf).to_string(), "ima", root_);
    EXPECT_EQ(listener_.removed, std::vector<Fingerprint>{fp(chain_.leaf)});
    EXPECT_TRUE(manager_->keys(LogicalKeyring::Ima)->empty());

    // The sandbox's evm carries a restriction already: sealed by its
    // permissions, by the kernel all the same.
    EXPECT_TRUE(manager_->seal("evm", root_));
    EXPECT_EQ(listener_.sealed, std::vector<LogicalKeyring>{LogicalKeyring::Evm});
    EXPECT_TRUE(manager_->keyring(LogicalKeyring::Evm).sealed);
    // A second seal changes nothing and says so.
    EXPECT_TRUE(manager_->seal("evm", root_));
    EXPECT_EQ(listener_.sealed.size(), 1u);
}

TEST_F(ManagerTest, AnEnrollmentAnswersBeforeItsDriftPassAndReadersSeeTheDriftAfterIt) {
    // The intermediate is recorded but gone from the kernel: drift. Enrolled
    // again, it is linked again, and the drift pass after the answer clears
    // the drift. A reader asking in between (here, at the answer) gets the
    // drift after the enrollment, never the one from before.
    unlinked_intermediate();
    manager_->refresh_drift();
    ASSERT_FALSE(manager_->compliant());
    ASSERT_EQ(manager_->drift().size(), 1u);
    ASSERT_EQ(manager_->drift()[0].kind, manager::DriftKind::Missing);
    const auto gone = manager_->drift()[0].fingerprint;

    std::size_t answers = 0;
    std::size_t enrolled_heard_at_answer = 0;
    std::vector<manager::DriftEntry> drift_at_answer{{}};
    std::vector<manager::DriftEntry> drift_read_again{{}};
    bool compliant_at_answer = false;
    std::uint64_t reconciled_at_answer = 0;
    // Microseconds, as LastReconcile counts them.
    const auto usec_now = [] {
        return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
    };
    const std::uint64_t before_enrolling = usec_now();
    auto results =
        manager_->enroll(state::StateStore(state_dir()).load().records.back().der, "secondary", {},
                         root_, [&](const std::vector<manager::CertificateResult>& answered) {
                             ++answers;
                             EXPECT_EQ(answered.size(), 1u);
                             EXPECT_TRUE(!answered.empty() && answered[0].accepted);
                             enrolled_heard_at_answer = listener_.enrolled.size();
                             drift_at_answer = manager_->drift();
                             compliant_at_answer = manager_->compliant();
                             reconciled_at_answer = manager_->last_reconcile_usec();
                             drift_read_again = manager_->drift();
                         });
    EXPECT_EQ(answers, 1u);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_EQ(results[0].fingerprint->to_string(), gone);
    EXPECT_TRUE(drift_at_answer.empty()) << "a reader got the drift from before the enrollment";
    EXPECT_TRUE(drift_read_again.empty());
    EXPECT_TRUE(compliant_at_answer);
    // LastReconcile agrees with the Drift read beside it: computed after
    // the enrollment began, not the pass before it.
    EXPECT_GE(reconciled_at_answer, before_enrolling);
    EXPECT_GE(manager_->last_reconcile_usec(), reconciled_at_answer);
    EXPECT_TRUE(manager_->drift().empty());
    EXPECT_TRUE(manager_->compliant());
    // The listener hears of the change after the answer.
    EXPECT_EQ(listener_.enrolled.size(), enrolled_heard_at_answer + 1);
}

TEST_F(ManagerTest, ConcurrentEnrollmentsAndReadsAllSucceed) {
    ASSERT_EQ(manager_->enroll(chain_.intermediate.der, "secondary", {}, root_).size(), 1u);
    std::vector<TestCert> leaves;
    for (int i = 0; i < 6; ++i)
        leaves.push_back(
            make_signed(signing_spec("leaf " + std::to_string(i)), chain_.intermediate));
    std::atomic<bool> done{false};
    std::atomic<int> failures{0};
    std::thread reader([&] {
        while (!done) {
            try {
                (void)manager_->keys(LogicalKeyring::Ima);
                (void)manager_->drift();
                (void)manager_->verify(chain_.leaf.der, "ima");
            } catch (...) {
                ++failures;
            }
        }
    });
    std::vector<std::thread> writers;
    for (int t = 0; t < 3; ++t) {
        writers.emplace_back([&, t] {
            for (int i = t; i < 6; i += 3) {
                try {
                    auto r = manager_->enroll(leaves[i].der, "ima", {}, root_);
                    if (r.size() != 1 || !r[0].accepted) ++failures;
                } catch (...) {
                    ++failures;
                }
            }
        });
    }
    for (auto& w : writers) w.join();
    done = true;
    reader.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(anchord_keys(LogicalKeyring::Ima).size(), 6u);
    EXPECT_EQ(state::StateStore(state_dir()).load().records.size(), 7u);
    EXPECT_TRUE(manager_->compliant());
}

TEST_F(ManagerTest, AStateThatCannotBeSavedLeavesTheKernelAsItWas) {
    ASSERT_EQ(manager_->enroll(chain_.intermediate.der, "secondary", {}, root_).size(), 1u);
    // The state folder becomes a file: every save fails, even for root.
    fs::remove_all(state_dir());
    write_file(state_dir(), Bytes{'x'});
    try {
        manager_->enroll(chain_.leaf.der, "ima", {}, root_);
        ADD_FAILURE() << "enroll succeeded without a state";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::StateError);
    }
    EXPECT_TRUE(manager_->keys(LogicalKeyring::Ima)->empty());
}

TEST_F(ManagerTest, ArgumentsAreBoundedAndQuoted) {
    auto code_of = [](const std::function<void()>& f) {
        try {
            f();
        } catch (const Error& e) {
            return e.code();
        }
        return ErrorCode::Internal;
    };
    EXPECT_EQ(code_of([&] { manager_->verify(chain_.leaf.der, "IMA"); }),
              ErrorCode::InvalidArgument);
    EXPECT_EQ(code_of([&] { manager_->verify(chain_.leaf.der, std::string("ima\0x", 5)); }),
              ErrorCode::InvalidArgument);
    EXPECT_EQ(code_of([&] { manager_->remove(std::string(81, 'a'), "ima", root_); }),
              ErrorCode::InvalidArgument);
    EXPECT_EQ(code_of([&] { manager_->remove(fp(chain_.leaf).to_string(), "ima", root_); }),
              ErrorCode::NotFound);
    EXPECT_EQ(code_of([&] { manager_->verify(Bytes{}, "ima"); }), ErrorCode::InvalidCertificate);
    // The message quotes the name, with what cannot be printed escaped.
    try {
        manager::parse_keyring_argument(std::string("im\x01") + "a");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'im\\x01a'"), std::string::npos) << e.what();
    }
}

TEST_F(ManagerTest, ProvisioningReportsEveryFileAndNeverHangs) {
    auto dropin = dir_ / "dropin";
    fs::create_directories(dropin / "ima");
    fs::create_directories(dropin / "bogus");
    fs::create_directories(dropin / "secondary");
    write_file(dropin / "secondary" / "inter.der", chain_.intermediate.der);
    write_file(dropin / "ima" / "leaf.pem", chain_.leaf.pem_bytes());
    write_file(dropin / "bogus" / "leaf.der", chain_.leaf.der);
    write_file(dropin / "loose.der", chain_.leaf.der);
    ASSERT_EQ(::mkfifo((dropin / "ima" / "fifo.der").c_str(), 0600), 0);
    fs::create_symlink(dir_ / "nowhere.der", dropin / "ima" / "dangling.der");

    auto report = manager_->provision(dropin);
    std::map<std::string, manager::ProvisionOutcome> outcome;
    for (const auto& e : report)
        outcome[fs::path(e.path).filename().string() + "@" + e.keyring] = e.outcome;
    using O = manager::ProvisionOutcome;
    EXPECT_EQ(outcome["inter.der@secondary"], O::Enrolled);
    EXPECT_EQ(outcome["leaf.pem@ima"], O::Enrolled);
    EXPECT_EQ(outcome["leaf.der@bogus"], O::Refused);
    EXPECT_EQ(outcome["loose.der@"], O::Refused);
    EXPECT_EQ(outcome["fifo.der@ima"], O::Refused);
    EXPECT_EQ(outcome["dangling.der@ima"], O::Refused);
    EXPECT_EQ(report.size(), 6u);
    EXPECT_EQ(manager_->provisioning().size(), 6u);
    auto state = state::StateStore(state_dir()).load();
    const auto* record = state.find(fp(chain_.leaf), LogicalKeyring::Ima);
    ASSERT_NE(record, nullptr);
    EXPECT_EQ(record->origin, state::Origin::Dropin);
    EXPECT_EQ(record->source, (dropin / "ima" / "leaf.pem").string());

    auto again = manager_->provision(dropin);
    for (const auto& e : again) {
        if (e.keyring == "ima" && fs::path(e.path).filename() == "leaf.pem") {
            EXPECT_EQ(e.outcome, O::AlreadyEnrolled);
        }
    }
    EXPECT_EQ(state::StateStore(state_dir()).load().records.size(), 2u);
}

TEST_F(ManagerTest, ReloadingABrokenPolicyKeepsTheOldOne) {
    auto before = manager_->policy_digest();
    write_file(policy_file(), Bytes{'{'});
    EXPECT_THROW(manager_->reload_policy(), Error);
    EXPECT_EQ(manager_->policy_digest(), before);
    EXPECT_EQ(listener_.policies, 0);
    auto text = std::string(default_policy_text()) + "\n";
    write_file(policy_file(),
               ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    manager_->reload_policy();
    EXPECT_NE(manager_->policy_digest(), before);
    EXPECT_EQ(listener_.policies, 1);
    EXPECT_EQ(manager_->policy().digest, manager_->policy_digest());
}

}  // namespace
}  // namespace anchord::testing
