// Every anchorctl command, in both output forms, against the real anchord
// in sandbox mode on a private dbus-daemon (the daemon tests' harness):
// the JSON conforms to docs/anchorctl-json.md, the exit statuses are the
// documented ones, and what a person reads holds the verdicts.
#include <gtest/gtest.h>
#include <pwd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "../daemon/anchord_harness.hpp"
#include "daemon_fixture.hpp"
#include "json_schema.hpp"
#include "process.hpp"

namespace anchorctl::testing {
namespace {

namespace fs = std::filesystem;
using anchord::testing::TestCert;

TEST_F(AnchorctlWithDaemon, StatusInBothForms) {
    const auto text = ctl({"status"});
    EXPECT_EQ(text.exit_status, 0) << text.err;
    EXPECT_NE(text.out.find("sandbox"), std::string::npos) << text.out;
    for (const std::string k : {"builtin", "secondary", "machine", "platform", "ima", "evm"}) {
        EXPECT_NE(text.out.find("\n" + k + " "), std::string::npos) << k << "\n" << text.out;
    }

    const auto status = ctl_json({"status"}, 0, "status");
    EXPECT_EQ(status["mode"], "sandbox");
    ASSERT_EQ(status["keyrings"].size(), 6u);
    EXPECT_EQ(status["keyrings"][0]["name"], "builtin");
    EXPECT_EQ(status["keyrings"][0]["key_count"], 1);  // the sandbox's root anchor
}

TEST_F(AnchorctlWithDaemon, ListInBothForms) {
    const auto text = ctl({"list"});
    EXPECT_EQ(text.exit_status, 0) << text.err;
    EXPECT_NE(text.out.find(fp(pki_.chain.root)), std::string::npos) << text.out;

    const auto list = ctl_json({"list", "builtin"}, 0, "list");
    ASSERT_EQ(list["keyrings"].size(), 1u);
    ASSERT_EQ(list["keyrings"][0]["keys"].size(), 1u);
    EXPECT_EQ(list["keyrings"][0]["keys"][0]["fingerprint"], fp(pki_.chain.root));
    EXPECT_EQ(list["keyrings"][0]["keys"][0]["origin"], "builtin");

    EXPECT_EQ(ctl_json({"list"}, 0, "list")["keyrings"].size(), 6u);
}

TEST_F(AnchorctlWithDaemon, VerifyAcceptedExits0) {
    const auto inter = der_file("intermediate.der", pki_.chain.intermediate);
    const auto document = ctl_json({"verify", "-k", "secondary", inter}, 0, "verify");
    EXPECT_EQ(document["accepted"], true);
    ASSERT_EQ(document["results"].size(), 1u);
    const auto& r = document["results"][0];
    EXPECT_EQ(r["index"], 0);
    EXPECT_EQ(r["file"], inter);
    EXPECT_EQ(r["fingerprint"], fp(pki_.chain.intermediate));
    EXPECT_EQ(r["accepted"], true);
    EXPECT_TRUE(r["serial"].is_null());  // a dry run links nothing
    EXPECT_FALSE(r["checks"].empty());
    EXPECT_EQ(r["kernel"]["accepted"], true);

    const auto text = ctl({"verify", "-k", "secondary", inter});
    EXPECT_EQ(text.exit_status, 0);
    EXPECT_NE(text.out.find("ACCEPTED"), std::string::npos) << text.out;
    EXPECT_TRUE(fingerprints(std::string("secondary")).empty());  // nothing was enrolled
}

TEST_F(AnchorctlWithDaemon, VerifyRefusedShowsFailedChecksFirstAndExits1) {
    const auto rogue = pem_file("rogue.pem", pki_.rogue);
    const auto text = ctl({"verify", "-k", "ima", rogue});
    EXPECT_EQ(text.exit_status, 1) << text.err;
    EXPECT_NE(text.out.find("REFUSED"), std::string::npos) << text.out;
    // The first check line after the header and the kernel's answer is a failure.
    const auto first_check = text.out.find("\n    ", text.out.find("kernel"));
    ASSERT_NE(first_check, std::string::npos);
    EXPECT_EQ(text.out.substr(first_check + 5, 4), "FAIL") << text.out;

    const auto document = ctl_json({"verify", "-k", "ima", rogue}, 1, "verify");
    EXPECT_EQ(document["accepted"], false);
    ASSERT_EQ(document["results"].size(), 1u);
    EXPECT_EQ(document["results"][0]["accepted"], false);
    EXPECT_TRUE(has_failed_check(document["results"][0]) ||
                document["results"][0]["kernel"]["accepted"] == false);
}

TEST_F(AnchorctlWithDaemon, VerifyOfUnreadableBytesShowsTheKernelsAnswerToo) {
    // A SET tag where the certificate's SEQUENCE is: anchord cannot read it,
    // the kernel's parser is asked all the same.
    anchord::Bytes bytes = pki_.chain.leaf.der;
    bytes[0] = 0x31;
    const auto garbled = file("wrong-tag.der", bytes);
    const auto document = ctl_json({"verify", "-k", "ima", garbled}, 1, "verify");
    EXPECT_EQ(document["accepted"], false);
    EXPECT_FALSE(document.contains("error"));
    ASSERT_EQ(document["results"].size(), 1u);
    const auto& r = document["results"][0];
    EXPECT_EQ(r["file"], garbled);
    EXPECT_TRUE(r["fingerprint"].is_null());
    EXPECT_EQ(r["accepted"], false);
    ASSERT_EQ(r["checks"].size(), 1u);
    EXPECT_EQ(r["checks"][0]["id"], "certificate.readable");
    EXPECT_EQ(r["checks"][0]["outcome"], "fail");
    EXPECT_EQ(r["kernel"]["accepted"], false);
    EXPECT_EQ(r["kernel"]["error"], "EBADMSG");

    const auto text = ctl({"verify", "-k", "ima", garbled});
    EXPECT_EQ(text.exit_status, 1) << text.err;
    EXPECT_NE(text.out.find("(unreadable certificate)"), std::string::npos) << text.out;
}

TEST_F(AnchorctlWithDaemon, VerifySeveralFilesGivesOneResultPerCertificateInOrder) {
    // DER and PEM mixed: one call per file, the index counting on.
    const auto inter = der_file("intermediate.der", pki_.chain.intermediate);
    const auto rogue = pem_file("rogue.pem", pki_.rogue);
    auto document = ctl_json({"verify", "-k", "secondary", inter, rogue}, 1, "verify");
    ASSERT_EQ(document["results"].size(), 2u);
    EXPECT_EQ(document["results"][0]["index"], 0);
    EXPECT_EQ(document["results"][0]["file"], inter);
    EXPECT_EQ(document["results"][0]["fingerprint"], fp(pki_.chain.intermediate));
    EXPECT_EQ(document["results"][1]["index"], 1);
    EXPECT_EQ(document["results"][1]["file"], rogue);
    EXPECT_EQ(document["results"][1]["fingerprint"], fp(pki_.rogue));
    EXPECT_EQ(document["results"][1]["accepted"], false);

    // All PEM: one bundle, the same order.
    const auto inter_pem = pem_file("intermediate.pem", pki_.chain.intermediate);
    const auto two = file("two.pem", bundle_of({&pki_.rogue, &pki_.chain.intermediate}));
    document = ctl_json({"verify", "-k", "secondary", inter_pem, two}, 1, "verify");
    ASSERT_EQ(document["results"].size(), 3u);
    const std::vector<std::string> expected{fp(pki_.chain.intermediate), fp(pki_.rogue),
                                            fp(pki_.chain.intermediate)};
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(document["results"][i]["index"], i);
        EXPECT_EQ(document["results"][i]["fingerprint"], expected[i]);
    }
    EXPECT_EQ(document["results"][0]["file"], inter_pem);
    EXPECT_EQ(document["results"][2]["file"], two);
}

TEST_F(AnchorctlWithDaemon, EnrollAChainThenShowAndRemoveIt) {
    const auto document = ctl_json(
        {"enroll", "-k", "secondary", der_file("intermediate.der", pki_.chain.intermediate)}, 0,
        "enroll");
    EXPECT_EQ(document["enrolled"], true);
    ASSERT_EQ(document["results"].size(), 1u);
    EXPECT_TRUE(document["results"][0]["serial"].is_number_integer());
    // JSON explains a success in full: the checks that passed too (text,
    // which shows none of them, asks anchord for a brief answer).
    const auto& checks = document["results"][0]["checks"];
    EXPECT_GT(checks.size(), 20u);
    EXPECT_TRUE(std::any_of(checks.begin(), checks.end(),
                            [](const auto& c) { return c["outcome"] == "pass"; }));

    // The leaf from standard input, as a person would pipe it.
    RunOptions piped;
    const auto pem = pki_.chain.leaf.pem();
    piped.input = pem;
    const auto text = ctl({"enroll", "-k", "ima", "-"}, piped);
    EXPECT_EQ(text.exit_status, 0) << text.out << text.err;
    EXPECT_NE(text.out.find("ENROLLED"), std::string::npos) << text.out;

    const auto leaf = fp(pki_.chain.leaf);
    const auto list = ctl_json({"list", "ima"}, 0, "list");
    EXPECT_EQ(fingerprints_in(list, "ima"), std::vector<std::string>{leaf});
    EXPECT_EQ(list["keyrings"][0]["keys"][0]["origin"], "anchord");

    const auto shown = ctl_json({"show", leaf}, 0, "show");
    ASSERT_EQ(shown["keyrings"].size(), 1u);
    EXPECT_EQ(shown["keyrings"][0]["keyring"], "ima");
    EXPECT_EQ(shown["keyrings"][0]["origin"], "anchord");
    const auto show_text = ctl({"show", leaf});
    EXPECT_EQ(show_text.exit_status, 0);
    EXPECT_NE(show_text.out.find("ima"), std::string::npos);

    const auto removed = ctl_json({"remove", "-k", "ima", leaf}, 0, "remove");
    EXPECT_EQ(removed["fingerprint"], leaf);
    EXPECT_TRUE(fingerprints_in(ctl_json({"list", "ima"}, 0, "list"), "ima").empty());
    EXPECT_EQ(ctl_json({"show", leaf}, 1, "error")["error"]["name"], "anchorctl.Error.NotFound");

    // Removing it again: anchord's NotFound, exit 1, in both forms.
    EXPECT_EQ(ctl_json({"remove", "-k", "ima", leaf}, 1, "error")["error"]["name"],
              "io.github.anchord1.Error.NotFound");
    EXPECT_EQ(ctl({"remove", "-k", "ima", leaf}).exit_status, 1);
}

TEST_F(AnchorctlWithDaemon, RefusedEnrollShowsEveryCheckFromVerify) {
    const auto rogue = pem_file("rogue.pem", pki_.rogue);
    const auto document = ctl_json({"enroll", "-k", "ima", rogue}, 1, "enroll");
    ASSERT_TRUE(document.contains("error"));
    const std::string name = document["error"]["name"];
    EXPECT_TRUE(name == "io.github.anchord1.Error.PolicyRejected" ||
                name == "io.github.anchord1.Error.KernelRejected")
        << name;
    EXPECT_EQ(document["enrolled"], false);
    ASSERT_EQ(document["results"].size(), 1u);
    EXPECT_EQ(document["results"][0]["fingerprint"], fp(pki_.rogue));
    EXPECT_TRUE(document["results"][0]["serial"].is_null());
    EXPECT_GT(document["results"][0]["checks"].size(), 1u);  // every check, not only the failure
    EXPECT_TRUE(has_failed_check(document["results"][0]));

    const auto text = ctl({"enroll", "-k", "ima", rogue});
    EXPECT_EQ(text.exit_status, 1);
    EXPECT_NE(text.out.find("FAIL"), std::string::npos) << text.out;
    EXPECT_NE(text.err.find("refused"), std::string::npos) << text.err;
    EXPECT_TRUE(fingerprints(std::string("ima")).empty());
}

TEST_F(AnchorctlWithDaemon, PemFilesAreEnrolledAllOrNothing) {
    enroll_intermediate();
    const auto leaf = pem_file("leaf.pem", pki_.chain.leaf);
    const auto rogue = pem_file("rogue.pem", pki_.rogue);
    const auto document = ctl_json({"enroll", "-k", "ima", leaf, rogue}, 1, "enroll");
    ASSERT_EQ(document["results"].size(), 2u);
    EXPECT_EQ(document["results"][0]["file"], leaf);
    EXPECT_EQ(document["results"][0]["accepted"], true);      // Verify would take it...
    EXPECT_TRUE(document["results"][0]["serial"].is_null());  // ...but it was not enrolled
    EXPECT_EQ(document["results"][1]["file"], rogue);
    EXPECT_EQ(document["results"][1]["accepted"], false);
    EXPECT_TRUE(fingerprints(std::string("ima")).empty());
}

TEST_F(AnchorctlWithDaemon, PartialEnrollsWhatIsAccepted) {
    enroll_intermediate();
    const auto document =
        ctl_json({"enroll", "-k", "ima", "--partial", pem_file("leaf.pem", pki_.chain.leaf),
                  pem_file("rogue.pem", pki_.rogue)},
                 1, "enroll");
    EXPECT_FALSE(document.contains("error"));
    EXPECT_EQ(document["partial"], true);
    EXPECT_EQ(document["enrolled"], false);
    ASSERT_EQ(document["results"].size(), 2u);
    EXPECT_TRUE(document["results"][0]["serial"].is_number_integer());
    EXPECT_EQ(document["results"][1]["accepted"], false);
    EXPECT_EQ(fingerprints(std::string("ima")), std::set<std::string>{fp(pki_.chain.leaf)});
}

TEST_F(AnchorctlWithDaemon, SealThenEnrollIsRefused) {
    enroll_intermediate();
    const auto sealed = ctl_json({"seal", "ima"}, 0, "seal");
    EXPECT_EQ(sealed["keyring"], "ima");
    EXPECT_TRUE(sealed["kernel_enforced"].is_boolean());

    const auto status = ctl_json({"status"}, 0, "status");
    for (const auto& k : status["keyrings"]) {
        if (k["name"] == "ima") {
            EXPECT_EQ(k["sealed"], true);
        }
    }

    const auto leaf = pem_file("leaf.pem", pki_.chain.leaf);
    // Nothing to show but the error: the error document alone.
    const auto refused = ctl_json({"enroll", "-k", "ima", leaf}, 1, "error");
    EXPECT_EQ(refused["error"]["name"], "io.github.anchord1.Error.Sealed");
    const auto text = ctl({"enroll", "-k", "ima", leaf});
    EXPECT_EQ(text.exit_status, 1);
    EXPECT_FALSE(text.err.empty());

    const auto seal_text = ctl({"seal", "evm"});
    EXPECT_EQ(seal_text.exit_status, 0) << seal_text.err;
    EXPECT_NE(seal_text.out.find("Sealed evm"), std::string::npos) << seal_text.out;
}

TEST_F(AnchorctlWithDaemon, ReconcileInBothForms) {
    const auto document = ctl_json({"reconcile"}, 0, "reconcile");
    EXPECT_EQ(document["compliant"], true);
    EXPECT_TRUE(document["drift"].empty());
    const auto text = ctl({"reconcile"});
    EXPECT_EQ(text.exit_status, 0) << text.err;
    EXPECT_NE(text.out.find("Compliant"), std::string::npos);
}

TEST_F(AnchorctlWithDaemon, PolicyInBothForms) {
    const auto policy = ctl_json({"policy"}, 0, "policy");
    const auto status = ctl_json({"status"}, 0, "status");
    EXPECT_EQ(policy["digest"], status["policy_digest"]);
    EXPECT_TRUE(policy["policy"].contains("keyrings"));
    const auto text = ctl({"policy"});
    EXPECT_EQ(text.exit_status, 0);
    EXPECT_NE(text.out.find(policy["digest"].get<std::string>()), std::string::npos);
}

TEST_F(AnchorctlWithDaemon, UnprivilegedCallerMayReadButNotEnroll) {
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody' on this machine";
    RunOptions as_nobody;
    as_nobody.uid = nobody->pw_uid;
    EXPECT_EQ(ctl({"status"}, as_nobody).exit_status, 0);

    as_nobody.input = pki_.chain.intermediate.pem();  // nobody cannot read the test's folder
    const auto document = ctl_json({"enroll", "-k", "secondary", "-"}, 4, "error", as_nobody);
    const std::string name = document["error"]["name"];
    EXPECT_TRUE(name == "io.github.anchord1.Error.AccessDenied" ||
                name == "org.freedesktop.DBus.Error.AccessDenied")
        << name;
    EXPECT_EQ(ctl({"enroll", "-k", "secondary", "-"}, as_nobody).exit_status, 4);
    EXPECT_TRUE(fingerprints(std::string("secondary")).empty());
}

TEST_F(AnchorctlWithDaemon, ColourOnlyOnATerminalAndNeverWithNoColorOrJson) {
    const auto rogue = pem_file("rogue.pem", pki_.rogue);
    RunOptions tty;
    tty.stdout_tty = true;
    tty.env = {{"NO_COLOR", std::nullopt}, {"TERM", "xterm"}};
    const auto coloured = ctl({"verify", "-k", "ima", rogue}, tty);
    EXPECT_EQ(coloured.exit_status, 1);
    EXPECT_NE(coloured.out.find("\033["), std::string::npos) << coloured.out;

    RunOptions no_color = tty;
    no_color.env = {{"NO_COLOR", "1"}, {"TERM", "xterm"}};
    const auto plain = ctl({"verify", "-k", "ima", rogue}, no_color);
    EXPECT_EQ(plain.exit_status, 1);
    EXPECT_EQ(plain.out.find('\033'), std::string::npos) << plain.out;

    const auto json = ctl({"verify", "-k", "ima", rogue, "--json"}, tty);
    EXPECT_EQ(json.out.find('\033'), std::string::npos);
    EXPECT_TRUE(nlohmann::json::accept(json.out)) << json.out;

    const auto piped = ctl({"verify", "-k", "ima", rogue});  // a pipe, not a terminal
    EXPECT_EQ(piped.out.find('\033'), std::string::npos);
}

}  // namespace
}  // namespace anchorctl::testing
