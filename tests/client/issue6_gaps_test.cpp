// The points of issue 6 (anchorctl) that the other client tests left
// undemonstrated: every check shown to a person with its reason, failed
// first; aligned tables; the bus chosen by default, by --session and by
// --bus-address; files read by anchorctl itself; the active policy and its
// digest; exit 4 for every change; every exit status in every --help; and
// the man pages and completion keeping up with the options.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "../daemon/anchord_harness.hpp"
#include "daemon_fixture.hpp"
#include "json_schema.hpp"
#include "process.hpp"

namespace anchorctl::testing {
namespace {

namespace fs = std::filesystem;
using anchord::testing::TestCert;

const std::vector<std::string> kCommands{"status", "list", "show",      "verify", "enroll",
                                         "remove", "seal", "reconcile", "policy"};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

std::string read_file(const fs::path& file) {
    return anchord::testing::read_text(file);
}

// The long options ("--name") a --help text names.
std::set<std::string> long_options_in(const std::string& help) {
    std::set<std::string> out;
    const std::regex option(R"((^|[\s,\[])(--[a-z][a-z-]*))");
    for (auto it = std::sregex_iterator(help.begin(), help.end(), option);
         it != std::sregex_iterator(); ++it) {
        out.insert((*it)[2]);
    }
    return out;
}

// How a man page spells an option: "\-\-state\-dir".
std::string roff(const std::string& option) {
    std::string out;
    for (const char c : option) {
        if (c == '-') out += '\\';
        out += c;
    }
    return out;
}

// One check line of a verdict as a person reads it.
struct CheckLine {
    std::string outcome;  // "FAIL", "warn", "pass", "skip"
    std::string id;
    std::string reason;
    bool operator==(const CheckLine&) const = default;
};

void PrintTo(const CheckLine& c, std::ostream* os) {
    *os << c.outcome << " " << c.id << " '" << c.reason << "'";
}

// The validity checks name the moment they ran: the text and the JSON of
// one verdict come from two calls, which a slow run (sanitizers) can put on
// either side of a second.
std::string without_clock(const std::string& reason) {
    static const std::regex moment(R"(checked at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z)");
    return std::regex_replace(reason, moment, "checked at (time)");
}

// The check lines of a text verdict, in the order printed.
std::vector<CheckLine> check_lines(const std::string& text) {
    std::vector<CheckLine> out;
    const std::regex line(R"(^    (FAIL|warn|pass|skip)  +(\S+)(?:  +(.*))?$)");
    for (const auto& l : lines_of(text)) {
        std::smatch m;
        if (!std::regex_match(l, m, line)) continue;
        std::string reason = m[3];
        reason.erase(reason.find_last_not_of(' ') + 1);
        out.push_back({m[1], m[2], without_clock(reason)});
    }
    return out;
}

// What a person must read for a JSON result's checks: every one, with its
// reason, failed first, then warnings, then the rest in the order they ran.
std::vector<CheckLine> expected_lines(const nlohmann::json& result) {
    std::vector<CheckLine> out;
    for (const std::string wanted : {"fail", "warn", "other"}) {
        for (const auto& c : result["checks"]) {
            const std::string outcome = c["outcome"];
            const bool other = outcome != "fail" && outcome != "warn";
            if (wanted == "other" ? !other : outcome != wanted) continue;
            out.push_back(
                {outcome == "fail" ? "FAIL" : outcome, c["id"], without_clock(c["reason"])});
        }
    }
    return out;
}

// The table that starts at the line whose text begins (after `indent`)
// with headers[0]: every row's cell starts in its header's column, two
// blanks after the previous one. Returns the number of rows checked.
std::size_t expect_aligned(const std::string& text, const std::vector<std::string>& headers,
                           const std::string& indent, std::size_t expected_rows) {
    const auto lines = lines_of(text);
    const auto header = std::find_if(lines.begin(), lines.end(), [&](const std::string& l) {
        return l.rfind(indent + headers[0] + " ", 0) == 0;
    });
    if (header == lines.end()) {
        ADD_FAILURE() << "no table with the header " << headers[0] << " in:\n" << text;
        return 0;
    }
    std::vector<std::size_t> columns;
    for (const auto& h : headers) {
        const auto at = header->find(h);
        EXPECT_NE(at, std::string::npos) << h << " in " << *header;
        columns.push_back(at);
    }
    std::size_t rows = 0;
    for (auto row = header + 1; row != lines.end() && rows < expected_rows; ++row, ++rows) {
        SCOPED_TRACE("row: '" + *row + "'\n" + text);
        EXPECT_EQ(row->rfind(indent, 0), 0u);
        for (std::size_t i = 1; i < columns.size(); ++i) {
            if (row->size() <= columns[i]) {
                ADD_FAILURE() << "the row ends before " << headers[i];
                break;
            }
            EXPECT_NE((*row)[columns[i]], ' ') << headers[i] << " starts elsewhere";
            EXPECT_EQ(row->substr(columns[i] - 2, 2), "  ") << headers[i];
        }
    }
    return rows;
}

// --- against a real anchord ----------------------------------------------------

class Issue6Daemon : public AnchorctlWithDaemon {
  protected:
    // A dead socket's address: a bus nobody can reach.
    std::string nowhere() const { return "unix:path=" + (dir_ / "nobody-here").string(); }
};

TEST_F(Issue6Daemon, VerifyTextShowsEveryCheckWithItsReasonFailedFirst) {
    const auto rogue = file("rogue.pem", pki_.rogue.pem_bytes());
    const auto document = ctl_json({"verify", "-k", "ima", rogue}, 1, "verify");
    ASSERT_EQ(document["results"].size(), 1u);
    const auto& result = document["results"][0];
    // The issue's example answer: a rogue certificate is refused by the kernel with ENOKEY.
    EXPECT_EQ(result["kernel"]["accepted"], false);
    EXPECT_EQ(result["kernel"]["error"], "ENOKEY");
    const auto expected = expected_lines(result);
    ASSERT_GT(expected.size(), 1u);
    ASSERT_EQ(expected.front().outcome, "FAIL");

    const auto text = ctl({"verify", "-k", "ima", rogue});
    EXPECT_EQ(text.exit_status, 1) << text.err;
    EXPECT_EQ(check_lines(text.out), expected) << text.out;
    EXPECT_NE(text.out.find("refused (ENOKEY)"), std::string::npos) << text.out;

    // An accepted certificate's verdict shows every check too, each passed or skipped.
    const auto inter = file("intermediate.der", pki_.chain.intermediate.der);
    const auto accepted = ctl_json({"verify", "-k", "secondary", inter}, 0, "verify");
    ASSERT_EQ(accepted["results"].size(), 1u);
    EXPECT_TRUE(accepted["results"][0]["kernel"]["error"].is_null());
    const auto accepted_text = ctl({"verify", "-k", "secondary", inter});
    EXPECT_EQ(accepted_text.exit_status, 0);
    EXPECT_EQ(check_lines(accepted_text.out), expected_lines(accepted["results"][0]))
        << accepted_text.out;
}

TEST_F(Issue6Daemon, RefusedEnrollTextShowsEveryCheckWithItsReasonFailedFirst) {
    const auto rogue = file("rogue.der", pki_.rogue.der);
    const auto document = ctl_json({"enroll", "-k", "ima", rogue}, 1, "enroll");
    ASSERT_EQ(document["results"].size(), 1u);
    EXPECT_EQ(document["results"][0]["kernel"]["error"], "ENOKEY");
    EXPECT_EQ(document["error"]["exit_status"], 1);
    const auto expected = expected_lines(document["results"][0]);
    ASSERT_GT(expected.size(), 1u);
    ASSERT_EQ(expected.front().outcome, "FAIL");

    const auto text = ctl({"enroll", "-k", "ima", rogue});
    EXPECT_EQ(text.exit_status, 1) << text.err;
    EXPECT_EQ(check_lines(text.out), expected) << text.out;
    EXPECT_TRUE(fingerprints(std::string("ima")).empty());
}

TEST_F(Issue6Daemon, EnrollOfUnreadableBytesGivesANullFingerprint) {
    const anchord::Bytes garbage{'n', 'o', 't', ' ', 'a', ' ', 'c', 'e', 'r', 't'};
    const auto bad = file("garbage.der", garbage);
    const auto document = ctl_json({"enroll", "-k", "ima", bad}, 1, "enroll");
    EXPECT_EQ(document["enrolled"], false);
    EXPECT_EQ(document["error"]["name"], "io.github.anchord1.Error.InvalidCertificate");
    ASSERT_EQ(document["results"].size(), 1u);
    EXPECT_TRUE(document["results"][0]["fingerprint"].is_null());
    EXPECT_EQ(document["results"][0]["accepted"], false);
    EXPECT_EQ(document["results"][0]["file"], bad);
}

TEST_F(Issue6Daemon, EnrollSeveralDerFilesGivesOneResultPerCertificateInOrder) {
    enroll_intermediate();
    const TestCert second = anchord::testing::make_signed(anchord::testing::signing_spec("second"),
                                                          pki_.chain.intermediate);
    const std::vector<std::pair<std::string, const TestCert*>> given{
        {file("second.der", second.der), &second},
        {file("leaf.der", pki_.chain.leaf.der), &pki_.chain.leaf}};
    const auto document =
        ctl_json({"enroll", "-k", "ima", given[0].first, given[1].first}, 0, "enroll");
    EXPECT_EQ(document["enrolled"], true);
    ASSERT_EQ(document["results"].size(), 2u);
    for (std::size_t i = 0; i < given.size(); ++i) {
        const auto& r = document["results"][i];
        EXPECT_EQ(r["index"], i);
        EXPECT_EQ(r["file"], given[i].first);
        EXPECT_EQ(r["fingerprint"], fp(*given[i].second));
        EXPECT_TRUE(r["serial"].is_number_integer());
    }
    EXPECT_EQ(fingerprints(std::string("ima")),
              (std::set<std::string>{fp(second), fp(pki_.chain.leaf)}));
}

TEST_F(Issue6Daemon, RemoveInTextForm) {
    enroll_intermediate();
    const auto leaf = fp(pki_.chain.leaf);
    ASSERT_EQ(ctl({"enroll", "-k", "ima", file("leaf.der", pki_.chain.leaf.der)}).exit_status, 0);
    ASSERT_EQ(fingerprints(std::string("ima")), std::set<std::string>{leaf});

    // The fingerprint as openssl prints it: colon-separated upper-case hex.
    std::string colons;
    const std::string hex = leaf.substr(7);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        if (i > 0) colons += ':';
        colons += static_cast<char>(std::toupper(hex[i]));
        colons += static_cast<char>(std::toupper(hex[i + 1]));
    }
    const auto text = ctl({"remove", "--keyring", "ima", colons});
    EXPECT_EQ(text.exit_status, 0) << text.out << text.err;
    EXPECT_NE(text.out.find(leaf), std::string::npos) << text.out;
    EXPECT_TRUE(fingerprints(std::string("ima")).empty());
    EXPECT_TRUE(kernel_keys("ima").empty());
}

TEST_F(Issue6Daemon, StatusAndListTextAreAlignedTables) {
    enroll_intermediate();
    const auto status = ctl({"status"});
    EXPECT_EQ(status.exit_status, 0) << status.err;
    EXPECT_EQ(expect_aligned(status.out,
                             {"KEYRING", "KERNEL NAME", "SERIAL", "PRESENT", "SEALED", "GUARDED",
                              "ROLE", "KEYS"},
                             "", 6),
              6u);

    // list KEYRING: that keyring alone, its keys in a table.
    const auto list = ctl({"list", "secondary"});
    EXPECT_EQ(list.exit_status, 0) << list.err;
    EXPECT_EQ(list.out.rfind("secondary  (", 0), 0u) << list.out;
    EXPECT_EQ(list.out.find("\nbuiltin  ("), std::string::npos) << list.out;
    EXPECT_EQ(expect_aligned(list.out, {"SERIAL", "ORIGIN", "FINGERPRINT", "DESCRIPTION"}, "  ", 1),
              1u);
    EXPECT_NE(list.out.find(fp(pki_.chain.intermediate)), std::string::npos) << list.out;
}

TEST_F(Issue6Daemon, FilesAreReadByAnchorctlAndStandardInputIsDash) {
    // A path relative to anchorctl's folder, which anchord does not share:
    // only bytes read by anchorctl itself can reach anchord.
    fs::create_directory(dir_ / "mine");
    file("mine/intermediate.der", pki_.chain.intermediate.der);
    RunOptions elsewhere;
    elsewhere.cwd = (dir_ / "mine").string();
    ASSERT_FALSE(fs::exists(fs::current_path() / "intermediate.der"));
    const auto relative =
        ctl_json({"verify", "-k", "secondary", "intermediate.der"}, 0, "verify", elsewhere);
    ASSERT_EQ(relative["results"].size(), 1u);
    EXPECT_EQ(relative["results"][0]["file"], "intermediate.der");
    EXPECT_EQ(relative["results"][0]["fingerprint"], fp(pki_.chain.intermediate));

    // '-' beside a FILE: standard input in its place in the order.
    RunOptions piped;
    piped.input = pki_.rogue.pem();
    const auto mixed = ctl_json(
        {"verify", "-k", "secondary", "-", file("intermediate.der", pki_.chain.intermediate.der)},
        1, "verify", piped);
    ASSERT_EQ(mixed["results"].size(), 2u);
    EXPECT_EQ(mixed["results"][0]["file"], "-");
    EXPECT_EQ(mixed["results"][0]["fingerprint"], fp(pki_.rogue));
    EXPECT_EQ(mixed["results"][1]["fingerprint"], fp(pki_.chain.intermediate));
}

TEST_F(Issue6Daemon, SystemBusIsTheDefault) {
    RunOptions system;
    system.env = {{"DBUS_SYSTEM_BUS_ADDRESS", bus_->address()},
                  {"DBUS_SESSION_BUS_ADDRESS", nowhere()}};
    const auto run = run_anchorctl({"status", "--json"}, system);
    EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
    EXPECT_EQ(conforming(run.out, "status")["mode"], "sandbox");
    // --session leaves the system bus alone.
    EXPECT_EQ(run_anchorctl({"--session", "status"}, system).exit_status, 3);
}

TEST_F(Issue6Daemon, SessionFlagTalksToTheSessionBus) {
    RunOptions session;
    session.env = {{"DBUS_SESSION_BUS_ADDRESS", bus_->address()},
                   {"DBUS_SYSTEM_BUS_ADDRESS", nowhere()}};
    const auto run = run_anchorctl({"--session", "status", "--json"}, session);
    EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
    EXPECT_EQ(conforming(run.out, "status")["mode"], "sandbox");
    EXPECT_EQ(run_anchorctl({"status"}, session).exit_status, 3);
}

TEST_F(Issue6Daemon, BusAddressWinsOverTheEnvironment) {
    RunOptions neither;
    neither.env = {{"DBUS_SESSION_BUS_ADDRESS", nowhere()}, {"DBUS_SYSTEM_BUS_ADDRESS", nowhere()}};
    const auto run = run_anchorctl({"--bus-address", bus_->address(), "list", "--json"}, neither);
    EXPECT_EQ(run.exit_status, 0) << run.out << run.err;
    EXPECT_EQ(conforming(run.out, "list")["keyrings"].size(), 6u);
}

TEST_F(Issue6Daemon, EveryChangeByAnUnauthorizedCallerExits4) {
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody' on this machine";
    enroll_intermediate();
    RunOptions as_nobody;
    as_nobody.uid = nobody->pw_uid;
    const auto inter = fp(pki_.chain.intermediate);
    const std::vector<std::vector<std::string>> changes{
        {"remove", "-k", "secondary", inter}, {"seal", "ima"}, {"reconcile"}};
    for (const auto& args : changes) {
        SCOPED_TRACE(::testing::PrintToString(args));
        const auto text = ctl(args, as_nobody);
        EXPECT_EQ(text.exit_status, 4) << text.out << text.err;
        EXPECT_FALSE(text.err.empty());
        const auto document = ctl_json(args, 4, "error", as_nobody);
        EXPECT_EQ(document["error"]["exit_status"], 4);
    }
    // Nothing changed.
    EXPECT_EQ(fingerprints(std::string("secondary")), std::set<std::string>{inter});
    EXPECT_FALSE(keyring_property<bool>("ima", "Sealed"));
}

// A policy file of the test's own: `policy` must show this one, and the
// SHA-256 of its text.
class Issue6DaemonOwnPolicy : public Issue6Daemon {
  protected:
    void before_start() override {
        auto policy = nlohmann::json::parse(anchord::default_policy_text());
        policy["deny"]["fingerprints"] = {fp(pki_.rogue)};
        policy_text_ = policy.dump(2) + "\n";
        anchord::testing::write_text(policy_file(), policy_text_);
    }
    std::string policy_text_;
};

TEST_F(Issue6DaemonOwnPolicy, PolicyShowsTheActivePolicyAndItsDigest) {
    const auto digest =
        anchord::Fingerprint::of_der(anchord::Bytes(policy_text_.begin(), policy_text_.end()))
            .to_string();
    const auto document = ctl_json({"policy"}, 0, "policy");
    EXPECT_EQ(document["digest"], digest);
    EXPECT_EQ(document["policy"]["deny"]["fingerprints"], nlohmann::json::array({fp(pki_.rogue)}));

    const auto text = ctl({"policy"});
    EXPECT_EQ(text.exit_status, 0) << text.err;
    EXPECT_NE(text.out.find(digest), std::string::npos) << text.out;
    EXPECT_NE(text.out.find(fp(pki_.rogue)), std::string::npos) << text.out;
}

// --- without a daemon --------------------------------------------------------------

TEST(Issue6Help, MainAndEveryCommandHelpListEveryExitStatus) {
    const std::vector<std::string> statuses{"  0  done\n", "  1  refused or failed",
                                            "  2  usage error\n", "  3  anchord unreachable",
                                            "  4  not authorized\n"};
    std::vector<std::vector<std::string>> helps{{"--help"}};
    for (const auto& command : kCommands) helps.push_back({command, "--help"});
    for (const auto& args : helps) {
        SCOPED_TRACE(::testing::PrintToString(args));
        const auto run = run_anchorctl(args);
        EXPECT_EQ(run.exit_status, 0) << run.err;
        std::size_t previous = 0;
        for (const auto& line : statuses) {
            const auto at = run.out.find(line);
            EXPECT_NE(at, std::string::npos) << line << " in\n" << run.out;
            if (at == std::string::npos) continue;
            EXPECT_GT(at, previous) << line;
            previous = at;
        }
    }
}

TEST(Issue6Files, FileTheCallerMayNotReadExits1AndNamesIt) {
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody' on this machine";
    char templ[] = "/tmp/anchorctl-issue6.XXXXXX";
    ASSERT_NE(::mkdtemp(templ), nullptr);
    const fs::path dir = templ;
    ::chmod(dir.c_str(), 0755);
    const auto secret = (dir / "secret.pem").string();
    anchord::testing::write_text(secret, "-----BEGIN CERTIFICATE-----\n");
    ::chmod(secret.c_str(), 0600);
    RunOptions as_nobody;
    as_nobody.uid = nobody->pw_uid;
    for (const std::string command : {"verify", "enroll"}) {
        SCOPED_TRACE(command);
        const auto text = run_anchorctl({command, "-k", "ima", secret}, as_nobody);
        EXPECT_EQ(text.exit_status, 1) << text.err;
        EXPECT_NE(text.err.find(secret), std::string::npos) << text.err;
        const auto json = run_anchorctl({command, "-k", "ima", secret, "--json"}, as_nobody);
        EXPECT_EQ(json.exit_status, 1);
        const auto document = nlohmann::json::parse(json.out);
        EXPECT_EQ(document["error"]["name"], "anchorctl.Error.File");
        EXPECT_NE(document["error"]["message"].get<std::string>().find(secret), std::string::npos);
    }
    fs::remove_all(dir);
}

TEST(Issue6ManPages, AnchorctlPageNamesEveryOptionOfEveryHelp) {
    const auto page = read_file(fs::path(ANCHORD_SOURCE_DIR) / "docs/man/anchorctl.1");
    EXPECT_NE(page.find("\n.TH ANCHORCTL 1 "), std::string::npos) << page.substr(0, 120);
    std::vector<std::vector<std::string>> helps{{"--help"}};
    for (const auto& command : kCommands) helps.push_back({command, "--help"});
    std::size_t seen = 0;
    for (const auto& args : helps) {
        const auto run = run_anchorctl(args);
        ASSERT_EQ(run.exit_status, 0);
        for (const auto& option : long_options_in(run.out)) {
            ++seen;
            EXPECT_NE(page.find(roff(option)), std::string::npos)
                << option << " (from anchorctl " << ::testing::PrintToString(args) << ")";
        }
    }
    EXPECT_GE(seen, 6u);  // --help, --version, --json, --bus-address, --session, --keyring, ...
}

TEST(Issue6ManPages, AnchordPageNamesEveryOptionOfItsHelp) {
    const auto anchord = fs::path(ANCHORD_BINARY_DIR) / "daemon" / "anchord";
    if (!fs::exists(anchord)) GTEST_SKIP() << anchord << " is not built";
    const auto page = read_file(fs::path(ANCHORD_SOURCE_DIR) / "docs/man/anchord.8");
    EXPECT_NE(page.find("\n.TH ANCHORD 8 "), std::string::npos) << page.substr(0, 120);
    for (const std::string section : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "FILES",
                                      "EXIT STATUS", "EXAMPLES", "SEE ALSO"}) {
        EXPECT_NE(page.find(".SH " + section + "\n"), std::string::npos) << section;
    }
    const auto help = shell_output(anchord.string() + " --help");
    ASSERT_TRUE(help);
    // The options its OPTIONS section lists, one a line, four blanks in.
    std::set<std::string> options;
    const std::regex entry(R"(^    (--[a-z][a-z-]*)( |$))");
    for (const auto& line : lines_of(*help)) {
        std::smatch m;
        if (std::regex_search(line, m, entry)) options.insert(m[1]);
    }
    EXPECT_GE(options.size(), 8u) << *help;
    for (const auto& option : options) {
        EXPECT_NE(page.find(roff(option)), std::string::npos) << option;
    }
}

std::set<std::string> completions(const std::string& words) {
    const std::string script =
        std::string(ANCHORD_SOURCE_DIR) + "/client/completion/anchorctl.bash";
    const auto out = shell_output("bash -c 'source " + script + " && COMP_WORDS=(" + words +
                                  ") && COMP_CWORD=$((${#COMP_WORDS[@]}-1)) && _anchorctl && "
                                  "printf \"%s\\n\" \"${COMPREPLY[@]}\"'");
    std::set<std::string> out_set;
    for (const auto& l : lines_of(out.value_or(""))) {
        if (!l.empty()) out_set.insert(l);
    }
    return out_set;
}

// The options CLI11 lists for a command: the "Options:" part of its --help.
std::set<std::string> own_options(const std::vector<std::string>& help_args) {
    const auto run = run_anchorctl(help_args);
    const auto start = run.out.find("Options:\n");
    if (start == std::string::npos) return {};
    auto end = run.out.find("\n\n", start);
    return long_options_in(run.out.substr(start, end - start));
}

TEST(Issue6Completion, OffersEveryOptionEachHelpLists) {
    auto global = own_options({"--help"});
    ASSERT_TRUE(global.contains("--json")) << ::testing::PrintToString(global);
    for (const auto& option : global) {
        EXPECT_TRUE(completions("anchorctl --").contains(option)) << option;
    }
    for (const auto& command : kCommands) {
        SCOPED_TRACE(command);
        const auto offered = completions("anchorctl " + command + " --");
        EXPECT_TRUE(offered.contains("--json"));
        for (const auto& option : own_options({command, "--help"})) {
            EXPECT_TRUE(offered.contains(option)) << option;
        }
    }
}

}  // namespace
}  // namespace anchorctl::testing
