// Issue 4, point 1 (audit of 2026-11-23): on the system keyrings, a
// userspace _ima/_evm that the kernel does not guard is said to be unguarded
// in every verdict the manager gives for it, Verify's and Enroll's alike;
// one anchord had the kernel restrict is said to be guarded.
#include <gtest/gtest.h>
#include <keyutils.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "anchord/certificate.hpp"
#include "anchord/policy.hpp"
#include "kernel_keys.hpp"
#include "keyring/keyrings.hpp"
#include "manager/manager.hpp"
#include "state/state_store.hpp"
#include "test_pki.hpp"

namespace anchord::testing {
namespace {

namespace fs = std::filesystem;
using manager::Manager;

// The outcome of check `id` in `checks`; Skip when it did not run.
std::optional<Outcome> outcome_of(const std::vector<Check>& checks, std::string_view id) {
    auto it =
        std::find_if(checks.begin(), checks.end(), [&](const Check& c) { return c.id == id; });
    if (it == checks.end()) return std::nullopt;
    return it->outcome;
}

class UnguardedKeyringTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_GT(keyctl_join_session_keyring(nullptr), 0);
        char templ[] = "/tmp/anchord-issue4-test.XXXXXX";
        ASSERT_NE(::mkdtemp(templ), nullptr);
        dir_ = templ;
    }
    void TearDown() override {
        manager_.reset();
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    // ima: a bare userspace keyring, as on a kernel without
    // CONFIG_INTEGRITY_TRUSTED_KEYRING where nobody restricts _ima; evm: one
    // anchord creates and has the kernel restrict (the no-trusted-keyring
    // policy's choice). Both made by anchord in the user keyring.
    void make_manager() {
        const std::string policy_text =
            R"({"version": 1, "keyrings": {
            "ima": {"kernel_keyring": ")" +
            ima_name_ + R"(", "create_restriction": "none"},
            "evm": {"kernel_keyring": ")" +
            evm_name_ + R"(", "create_restriction": "builtin_and_secondary_trusted"}}})";
        std::ofstream(dir_ / "policy.json") << policy_text;
        Policy policy = manager::load_policy_file(dir_ / "policy.json");
        state::StateStore store(dir_ / "state");
        auto state = store.load();
        manager_ =
            std::make_unique<Manager>(manager::ManagerSetup{dir_ / "policy.json",
                                                            policy,
                                                            keyring::Keyrings::system(policy, true),
                                                            keyring::detect_kernel_profile(),
                                                            std::move(store),
                                                            std::move(state),
                                                            {}});
    }

    fs::path dir_;
    std::string ima_name_ = "_anchord_issue4_ima_" + std::to_string(getpid());
    std::string evm_name_ = "_anchord_issue4_evm_" + std::to_string(getpid());
    UserKeyringCleanup ima_cleanup_{ima_name_};
    UserKeyringCleanup evm_cleanup_{evm_name_};
    std::unique_ptr<Manager> manager_;
};

TEST_F(UnguardedKeyringTest, EveryVerdictForAnUnguardedKeyringSaysTheKernelChecksNothing) {
    make_manager();
    Chain chain = make_chain();
    TestCert rogue = make_self_signed(signing_spec("rogue"));

    for (const Bytes* der : {&chain.leaf.der, &rogue.der}) {
        auto ima = manager_->verify(*der, "ima");
        ASSERT_EQ(ima.size(), 1u);
        EXPECT_EQ(outcome_of(ima[0].checks, "keyring.unguarded"), Outcome::Warn);
        // Nothing in the kernel refuses it there: only the policy does.
        EXPECT_TRUE(ima[0].kernel.accepted);
        EXPECT_FALSE(ima[0].accepted);

        auto evm = manager_->verify(*der, "evm");
        ASSERT_EQ(evm.size(), 1u);
        EXPECT_EQ(outcome_of(evm[0].checks, "keyring.unguarded"), Outcome::Pass);
        EXPECT_FALSE(evm[0].kernel.accepted);
        EXPECT_EQ(evm[0].kernel.error_name, "ENOKEY");
    }

    // Enroll's verdict says the same (partial: the refusal is reported,
    // not thrown).
    manager::EnrollOptions partial;
    partial.partial = true;
    manager::Requester root{0, ":1.1"};
    auto enrolled = manager_->enroll(rogue.der, "ima", partial, root);
    ASSERT_EQ(enrolled.size(), 1u);
    EXPECT_FALSE(enrolled[0].accepted);
    EXPECT_EQ(outcome_of(enrolled[0].checks, "keyring.unguarded"), Outcome::Warn);
    enrolled = manager_->enroll(rogue.der, "evm", partial, root);
    ASSERT_EQ(enrolled.size(), 1u);
    EXPECT_EQ(outcome_of(enrolled[0].checks, "keyring.unguarded"), Outcome::Pass);
}

}  // namespace
}  // namespace anchord::testing
