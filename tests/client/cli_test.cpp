// anchorctl as a process, where no anchord is needed: --help, usage errors,
// an unreachable anchord, unreadable files, and the JSON error document.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "dbus_daemon.hpp"
#include "json_schema.hpp"
#include "process.hpp"

namespace anchorctl::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kCommands{"status", "list", "show",      "verify", "enroll",
                                         "remove", "seal", "reconcile", "policy"};

// A scratch directory for one test, removed with it.
class TempDir {
  public:
    TempDir() {
        char templ[] = "/tmp/anchorctl-test.XXXXXX";
        if (::mkdtemp(templ) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = templ;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

// A unix socket that is bound but never listens: connecting is refused.
class DeadSocket {
  public:
    explicit DeadSocket(const fs::path& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error("cannot bind " + path.string());
        }
    }
    ~DeadSocket() { ::close(fd_); }
    std::string address() const { return "unix:path=" + path_.string(); }

  private:
    fs::path path_;
    int fd_ = -1;
};

nlohmann::json parse_one_document(const std::string& out) {
    // Exactly one document: parse() refuses anything after the first value.
    return nlohmann::json::parse(out);
}

void expect_conforms(const nlohmann::json& document, const std::string& schema) {
    const auto problems = SchemaPage::load().violations(document, schema);
    EXPECT_TRUE(problems.empty()) << "against schema '" << schema << "':\n"
                                  << ::testing::PrintToString(problems) << "\n"
                                  << document.dump(2);
}

// The arguments that make each command valid up to the point where it
// would talk to anchord.
std::vector<std::string> valid_args(const std::string& command, const std::string& cert_file) {
    if (command == "show") return {"show", "sha256:" + std::string(64, 'a')};
    if (command == "verify" || command == "enroll") return {command, "--keyring", "ima", cert_file};
    if (command == "remove") return {"remove", "--keyring", "ima", std::string(64, 'b')};
    if (command == "seal") return {"seal", "ima"};
    if (command == "list") return {"list", "ima"};
    return {command};
}

TEST(AnchorctlHelp, MainHelpListsEveryCommandExitStatusAndExample) {
    const auto run = run_anchorctl({"--help"});
    EXPECT_EQ(run.exit_status, 0) << run.err;
    for (const auto& command : kCommands)
        EXPECT_NE(run.out.find(command), std::string::npos) << command;
    EXPECT_NE(run.out.find("Exit status"), std::string::npos);
    EXPECT_NE(run.out.find("Examples:"), std::string::npos);
}

TEST(AnchorctlHelp, EveryCommandHasHelpWithAnExampleAndTheExitStatus) {
    for (const auto& command : kCommands) {
        SCOPED_TRACE(command);
        const auto run = run_anchorctl({command, "--help"});
        EXPECT_EQ(run.exit_status, 0) << run.err;
        EXPECT_NE(run.out.find("Examples:\n  anchorctl " + command), std::string::npos) << run.out;
        EXPECT_NE(run.out.find("Exit status"), std::string::npos) << run.out;
        EXPECT_NE(run.out.find("4  not authorized"), std::string::npos) << run.out;
    }
}

TEST(AnchorctlHelp, HelpWinsOverMissingArguments) {
    const auto run = run_anchorctl({"enroll", "--help"});
    EXPECT_EQ(run.exit_status, 0);
    EXPECT_NE(run.out.find("--partial"), std::string::npos);
}

TEST(AnchorctlUsage, BadCommandLinesExit2) {
    const std::vector<std::vector<std::string>> cases{
        {},                                                        // no command
        {"frobnicate"},                                            // unknown command
        {"status", "--no-such-option"},                            // unknown option
        {"verify", "cert.pem"},                                    // --keyring missing
        {"verify", "--keyring", "ima"},                            // FILE missing
        {"enroll", "--keyring", "bogus", "cert.pem"},              // not a keyring
        {"list", "bogus"},                                         // not a keyring
        {"seal"},                                                  // KEYRING missing
        {"remove", "sha256:" + std::string(64, 'a')},              // --keyring missing
        {"show"},                                                  // FINGERPRINT missing
        {"show", "not-a-fingerprint"},                             // not hex
        {"show", "sha256:abcd"},                                   // too short
        {"remove", "--keyring", "ima", "xyz"},                     // not a fingerprint
        {"--session", "--bus-address", "unix:path=/x", "status"},  // two buses
        {"--bus-address", "", "status"},                           // empty address
        {"verify", "--keyring", "ima", "-", "-"},                  // standard input twice
    };
    for (const auto& args : cases) {
        SCOPED_TRACE(::testing::PrintToString(args));
        const auto run = run_anchorctl(args);
        EXPECT_EQ(run.exit_status, 2) << run.out << run.err;
        EXPECT_FALSE(run.err.empty());
    }
}

TEST(AnchorctlUsage, JsonUsageErrorIsOneErrorDocument) {
    const auto run = run_anchorctl({"--json", "enroll", "--keyring", "bogus", "cert.pem"});
    EXPECT_EQ(run.exit_status, 2);
    const auto document = parse_one_document(run.out);
    expect_conforms(document, "error");
    EXPECT_EQ(document["error"]["name"], "anchorctl.Error.Usage");
    EXPECT_EQ(document["error"]["exit_status"], 2);
    EXPECT_TRUE(run.err.empty()) << run.err;
}

TEST(AnchorctlUsage, JsonAfterTheCommandCounts) {
    const auto run = run_anchorctl({"show", "nope", "--json"});
    EXPECT_EQ(run.exit_status, 2);
    EXPECT_EQ(parse_one_document(run.out)["error"]["name"], "anchorctl.Error.Usage");
}

class AnchorctlUnreachable : public ::testing::Test {
  protected:
    TempDir dir_;
    fs::path cert_file() const {
        const auto file = dir_.path() / "cert.pem";
        std::ofstream(file) << "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        return file;
    }
};

TEST_F(AnchorctlUnreachable, NoSocketAtTheAddressExits3WithHowToStartAnchord) {
    const std::string address = "unix:path=" + (dir_.path() / "nobody-here").string();
    for (const auto& command : kCommands) {
        SCOPED_TRACE(command);
        auto args = valid_args(command, cert_file());
        args.insert(args.begin(), {"--bus-address", address});
        const auto run = run_anchorctl(args);
        EXPECT_EQ(run.exit_status, 3) << run.out << run.err;
        EXPECT_NE(run.err.find("anchord --bus-address " + address), std::string::npos) << run.err;
    }
}

TEST_F(AnchorctlUnreachable, RefusedConnectionExits3InBothForms) {
    const DeadSocket dead(dir_.path() / "dead");
    for (const auto& command : kCommands) {
        SCOPED_TRACE(command);
        auto args = valid_args(command, cert_file());
        args.insert(args.begin(), {"--bus-address", dead.address()});
        const auto text = run_anchorctl(args);
        EXPECT_EQ(text.exit_status, 3) << text.err;
        EXPECT_TRUE(text.out.empty()) << text.out;

        args.push_back("--json");
        const auto json = run_anchorctl(args);
        EXPECT_EQ(json.exit_status, 3) << json.err;
        const auto document = parse_one_document(json.out);
        expect_conforms(document, "error");
        EXPECT_EQ(document["error"]["exit_status"], 3);
        EXPECT_EQ(document["error"]["name"], "org.freedesktop.DBus.Error.NoServer");
    }
}

TEST_F(AnchorctlUnreachable, BusWithoutAnchordExits3WithServiceUnknown) {
    const anchord::testing::PrivateBus bus;
    for (const auto& command : kCommands) {
        SCOPED_TRACE(command);
        auto args = valid_args(command, cert_file());
        args.insert(args.begin(), {"--json", "--bus-address", bus.address()});
        const auto run = run_anchorctl(args);
        EXPECT_EQ(run.exit_status, 3) << run.out << run.err;
        const auto document = parse_one_document(run.out);
        expect_conforms(document, "error");
        EXPECT_EQ(document["error"]["name"], "org.freedesktop.DBus.Error.ServiceUnknown");
        const std::string message = document["error"]["message"];
        EXPECT_NE(message.find("is anchord running?"), std::string::npos) << message;
    }
}

TEST_F(AnchorctlUnreachable, DefaultSystemBusUnreachableSaysHowToStartTheService) {
    const DeadSocket dead(dir_.path() / "system_bus_socket");
    RunOptions options;
    options.env = {{"DBUS_SYSTEM_BUS_ADDRESS", dead.address()}};
    const auto run = run_anchorctl({"status"}, options);
    EXPECT_EQ(run.exit_status, 3);
    EXPECT_NE(run.err.find("systemctl start anchord"), std::string::npos) << run.err;
}

TEST_F(AnchorctlUnreachable, SessionBusUnreachableExits3) {
    RunOptions options;
    options.env = {{"DBUS_SESSION_BUS_ADDRESS", "unix:path=" + (dir_.path() / "none").string()}};
    const auto run = run_anchorctl({"--session", "status"}, options);
    EXPECT_EQ(run.exit_status, 3) << run.err;
    EXPECT_NE(run.err.find("anchord --session"), std::string::npos) << run.err;
}

class AnchorctlFiles : public AnchorctlUnreachable {};

TEST_F(AnchorctlFiles, MissingFileExits1AndNamesTheFile) {
    const auto missing = (dir_.path() / "no-such-cert.pem").string();
    for (const std::string command : {"verify", "enroll"}) {
        SCOPED_TRACE(command);
        // The file is read before any bus is asked: no bus is needed here.
        const auto run = run_anchorctl({command, "--keyring", "ima", cert_file(), missing});
        EXPECT_EQ(run.exit_status, 1);
        EXPECT_NE(run.err.find(missing), std::string::npos) << run.err;
        EXPECT_TRUE(run.out.empty()) << run.out;

        const auto json = run_anchorctl({command, "--keyring", "ima", missing, "--json"});
        EXPECT_EQ(json.exit_status, 1);
        const auto document = parse_one_document(json.out);
        expect_conforms(document, "error");
        EXPECT_EQ(document["error"]["name"], "anchorctl.Error.File");
        EXPECT_NE(document["error"]["message"].get<std::string>().find(missing), std::string::npos);
    }
}

TEST_F(AnchorctlFiles, UnreadableFileExits1AndNamesTheFile) {
    // A directory opens but cannot be read (EISDIR), even for root.
    const auto directory = (dir_.path() / "a-directory").string();
    fs::create_directory(directory);
    const auto run = run_anchorctl({"verify", "--keyring", "ima", directory});
    EXPECT_EQ(run.exit_status, 1);
    EXPECT_NE(run.err.find(directory), std::string::npos) << run.err;
}

std::string completions(const std::string& words) {
    const std::string script =
        std::string(ANCHORD_SOURCE_DIR) + "/client/completion/anchorctl.bash";
    const auto out = shell_output("bash -c 'source " + script + " && COMP_WORDS=(" + words +
                                  ") && COMP_CWORD=$((${#COMP_WORDS[@]}-1)) && _anchorctl && "
                                  "echo \"${COMPREPLY[*]}\"'");
    return out.value_or("(bash failed)");
}

TEST(AnchorctlCompletion, OffersEveryCommandKeyringAndOption) {
    std::string all;
    for (const auto& command : kCommands) all += (all.empty() ? "" : " ") + command;
    EXPECT_EQ(completions("anchorctl \"\""), all + "\n");
    EXPECT_EQ(completions("anchorctl --json ve"), "verify\n");
    EXPECT_EQ(completions("anchorctl enroll --keyring \"\""),
              "builtin secondary machine platform ima evm\n");
    EXPECT_EQ(completions("anchorctl seal i"), "ima\n");
    EXPECT_EQ(completions("anchorctl enroll --p"), "--partial\n");
}

TEST(AnchorctlManPages, NameEveryCommandAndExitStatusAndRenderCleanly) {
    const std::string man1 = std::string(ANCHORD_SOURCE_DIR) + "/docs/man/anchorctl.1";
    const std::string man8 = std::string(ANCHORD_SOURCE_DIR) + "/docs/man/anchord.8";
    std::ifstream in(man1);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    for (const auto& command : kCommands) {
        EXPECT_NE(text.find(".B " + command), std::string::npos) << command;
    }
    for (const std::string status : {"0", "1", "2", "3", "4"}) {
        EXPECT_NE(text.find(".TP\n.B " + status + "\n"), std::string::npos) << status;
    }
    if (!shell_output("command -v groff")) GTEST_SKIP() << "groff is not installed";
    for (const auto& page : {man1, man8}) {
        // -ww: every warning; -z: no output. Warnings go to standard error.
        const auto warnings = shell_output("groff -man -ww -z " + page + " 2>&1");
        ASSERT_TRUE(warnings) << page;
        EXPECT_EQ(*warnings, "") << page;
    }
}

}  // namespace
}  // namespace anchorctl::testing
