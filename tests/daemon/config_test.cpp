// anchord's command line and configuration file.
#include "config/config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace anchord::config {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string templ = (fs::temp_directory_path() / "anchord-config-test.XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr) << std::strerror(errno);
        dir_ = templ;
        // A default configuration file that does not exist, so the tests do
        // not depend on this machine's /etc.
        no_default_ = dir_ / "absent.conf";
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    ParseResult parse(std::vector<std::string> args) {
        return parse_with_default(std::move(args), no_default_);
    }

    ParseResult parse_with_default(std::vector<std::string> args, const fs::path& default_file) {
        args.insert(args.begin(), "anchord");
        std::vector<const char*> argv;
        for (const auto& a : args) argv.push_back(a.c_str());
        argv.push_back(nullptr);
        return parse_command_line(static_cast<int>(args.size()), argv.data(), default_file);
    }

    fs::path write_conf(const std::string& name, const std::string& text) {
        fs::path p = dir_ / name;
        std::ofstream out(p);
        out << text;
        return p;
    }

    fs::path dir_;
    fs::path no_default_;
};

TEST_F(ConfigTest, Defaults) {
    ParseResult r = parse({});
    ASSERT_FALSE(r.exit_now) << r.output;
    const Config& c = r.config;
    EXPECT_EQ(c.policy, "/etc/anchord/policy.json");
    EXPECT_EQ(c.state_dir, "/var/lib/anchord");
    EXPECT_EQ(c.dropin_dir, "/etc/anchord/anchors.d");
    EXPECT_EQ(c.bus, BusKind::System);
    EXPECT_EQ(c.bus_address, "");
    EXPECT_FALSE(c.sandbox_anchors.has_value());
    EXPECT_EQ(c.drift_interval, 60s);
    EXPECT_TRUE(c.create_keyrings);
    EXPECT_FALSE(c.config_file.has_value());
}

TEST_F(ConfigTest, EveryOption) {
    ParseResult r = parse({"--policy", "/p/policy.json", "--state-dir", "/s", "--dropin-dir", "/d",
                           "--session", "--sandbox", "/anchors", "--drift-interval", "5"});
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.policy, "/p/policy.json");
    EXPECT_EQ(r.config.state_dir, "/s");
    EXPECT_EQ(r.config.dropin_dir, "/d");
    EXPECT_EQ(r.config.bus, BusKind::Session);
    ASSERT_TRUE(r.config.sandbox_anchors.has_value());
    EXPECT_EQ(*r.config.sandbox_anchors, "/anchors");
    EXPECT_EQ(r.config.drift_interval, 5s);

    r = parse(
        {"--bus-address=unix:path=/run/test/bus", "--policy=/q.json", "--drift-interval=3600"});
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.bus, BusKind::Address);
    EXPECT_EQ(r.config.bus_address, "unix:path=/run/test/bus");
    EXPECT_EQ(r.config.policy, "/q.json");
    EXPECT_EQ(r.config.drift_interval, 3600s);

    r = parse({"--system"});
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.bus, BusKind::System);

    // The same bus option twice is no conflict.
    r = parse({"--session", "--session"});
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.bus, BusKind::Session);
}

TEST_F(ConfigTest, RelativePathsBecomeAbsolute) {
    ParseResult r = parse({"--policy", "rel/policy.json", "--state-dir", "state"});
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.policy, fs::current_path() / "rel/policy.json");
    EXPECT_EQ(r.config.state_dir, fs::current_path() / "state");
}

TEST_F(ConfigTest, HelpAndVersion) {
    ParseResult r = parse({"--help"});
    EXPECT_TRUE(r.exit_now);
    EXPECT_EQ(r.exit_code, 0);
    // Every option, its default, the file format, signals and exit status.
    for (const char* must : {"--policy",
                             "--state-dir",
                             "--dropin-dir",
                             "--bus-address",
                             "--session",
                             "--system",
                             "--sandbox",
                             "--config",
                             "--drift-interval",
                             "--help",
                             "--version",
                             "/etc/anchord/policy.json",
                             "/var/lib/anchord",
                             "/etc/anchord/anchors.d",
                             "/etc/anchord/anchord.conf",
                             "Default: 60",
                             "drift-interval = SECONDS",
                             "SIGTERM",
                             "SIGHUP",
                             "EXIT STATUS"}) {
        EXPECT_NE(r.output.find(must), std::string::npos) << "--help lacks " << must;
    }

    // --help wins over what follows it, even a bad option.
    r = parse({"--help", "--no-such-option"});
    EXPECT_TRUE(r.exit_now);
    EXPECT_EQ(r.exit_code, 0);

    r = parse({"--version"});
    EXPECT_TRUE(r.exit_now);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.output, "anchord " ANCHORD_VERSION "\n");
}

TEST_F(ConfigTest, UsageErrorsExitWithTwoAndNameTheOption) {
    struct Case {
        std::vector<std::string> args;
        std::string named;  // what the message must name
    };
    std::vector<Case> cases = {
        {{"--no-such-option"}, "--no-such-option"},
        {{"-p"}, "-p"},
        {{"stray"}, "stray"},
        {{"--"}, "--"},
        {{"--policy"}, "--policy"},
        {{"--policy="}, "--policy"},
        {{"--state-dir"}, "--state-dir"},
        {{"--session=yes"}, "--session"},
        {{"--help=1"}, "--help"},
        {{"--drift-interval", "abc"}, "--drift-interval"},
        {{"--drift-interval", "0"}, "--drift-interval"},
        {{"--drift-interval", "-5"}, "--drift-interval"},
        {{"--drift-interval", "10s"}, "--drift-interval"},
        {{"--drift-interval", "99999999999"}, "--drift-interval"},
        {{"--bus-address", "nocolon"}, "--bus-address"},
        {{"--session", "--system"}, "--system"},
        {{"--system", "--bus-address", "unix:path=/x"}, "--bus-address"},
        {{"--config", "/nonexistent/anchord.conf"}, "/nonexistent/anchord.conf"},
    };
    for (const auto& c : cases) {
        std::string joined;
        for (const auto& a : c.args) joined += a + " ";
        SCOPED_TRACE(joined);
        ParseResult r = parse(c.args);
        EXPECT_TRUE(r.exit_now);
        EXPECT_EQ(r.exit_code, 2);
        EXPECT_NE(r.output.find(c.named), std::string::npos) << r.output;
    }
}

TEST_F(ConfigTest, ConfigFileSetsEveryKey) {
    fs::path conf = write_conf("anchord.conf",
                               "# anchord settings\n"
                               "\n"
                               "policy = /srv/policy.json\n"
                               "  state-dir=/srv/state  \n"
                               "dropin-dir = /srv/anchors.d/#not-a-comment\n"
                               "\t# an indented comment\n"
                               "bus = unix:path=/run/anchord/bus\n"
                               "sandbox = /srv/roots\n"
                               "drift-interval = 120\n");
    ParseResult r = parse({"--config", conf.string()});
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.policy, "/srv/policy.json");
    EXPECT_EQ(r.config.state_dir, "/srv/state");
    EXPECT_EQ(r.config.dropin_dir, "/srv/anchors.d/#not-a-comment");
    EXPECT_EQ(r.config.bus, BusKind::Address);
    EXPECT_EQ(r.config.bus_address, "unix:path=/run/anchord/bus");
    ASSERT_TRUE(r.config.sandbox_anchors.has_value());
    EXPECT_EQ(*r.config.sandbox_anchors, "/srv/roots");
    EXPECT_EQ(r.config.drift_interval, 120s);
    EXPECT_EQ(r.config.config_file, conf);

    write_conf("session.conf", "bus = session\n");
    r = parse({"--config", (dir_ / "session.conf").string()});
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.bus, BusKind::Session);
}

TEST_F(ConfigTest, TheDefaultFileIsReadWhenItExists) {
    fs::path conf = write_conf("default.conf", "policy = /from/default.json\n");
    ParseResult r = parse_with_default({}, conf);
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.policy, "/from/default.json");
    EXPECT_EQ(r.config.config_file, conf);

    // --config replaces the default file; it does not add to it.
    fs::path other = write_conf("other.conf", "state-dir = /other\n");
    r = parse_with_default({"--config", other.string()}, conf);
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.policy, "/etc/anchord/policy.json");
    EXPECT_EQ(r.config.state_dir, "/other");
}

TEST_F(ConfigTest, CommandLineOverridesTheFile) {
    fs::path conf = write_conf("anchord.conf",
                               "policy = /file/policy.json\n"
                               "state-dir = /file/state\n"
                               "bus = session\n"
                               "drift-interval = 30\n");
    ParseResult r = parse({"--config", conf.string(), "--policy", "/cli/policy.json",
                           "--bus-address", "unix:path=/cli/bus"});
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.policy, "/cli/policy.json");
    EXPECT_EQ(r.config.state_dir, "/file/state");
    EXPECT_EQ(r.config.bus, BusKind::Address);
    EXPECT_EQ(r.config.bus_address, "unix:path=/cli/bus");
    EXPECT_EQ(r.config.drift_interval, 30s);

    // The file chose an address; --system on the command line clears it.
    fs::path addr = write_conf("addr.conf", "bus = unix:path=/file/bus\n");
    r = parse({"--config", addr.string(), "--system"});
    ASSERT_FALSE(r.exit_now) << r.output;
    EXPECT_EQ(r.config.bus, BusKind::System);
    EXPECT_EQ(r.config.bus_address, "");
}

TEST_F(ConfigTest, BadConfigFilesExitWithTwoAndNameFileAndLine) {
    struct Case {
        std::string text;
        int line;
    };
    std::vector<Case> cases = {
        {"policy = /ok.json\ncolour = blue\n", 2},
        {"# comment\n\nno equals sign\n", 3},
        {"policy =\n", 1},
        {"= /x\n", 1},
        {"policy = relative/policy.json\n", 1},
        {"state-dir = /a\nstate-dir = /b\n", 2},
        {"bus = maybe\n", 1},
        {"drift-interval = 1m\n", 1},
        {"drift-interval = 0\n", 1},
        {"sandbox = anchors\n", 1},
    };
    int n = 0;
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        fs::path conf = write_conf("bad" + std::to_string(n++) + ".conf", c.text);
        ParseResult r = parse({"--config", conf.string()});
        EXPECT_TRUE(r.exit_now);
        EXPECT_EQ(r.exit_code, 2);
        std::string where = conf.string() + ":" + std::to_string(c.line);
        EXPECT_NE(r.output.find(where), std::string::npos) << r.output;
    }
}

TEST_F(ConfigTest, UnreadableDefaultFileIsAnError) {
    // A directory where the default file should be: it exists but cannot be read.
    fs::path conf = dir_ / "dir.conf";
    fs::create_directory(conf);
    ParseResult r = parse_with_default({}, conf);
    EXPECT_TRUE(r.exit_now);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.output.find(conf.string()), std::string::npos) << r.output;
}

}  // namespace
}  // namespace anchord::config
