// anchord's settings: built-in defaults, then the configuration file, then
// the command line, each overriding the one before. See anchord --help and
// docs/configuration.md for the file format.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace anchord::config {

enum class BusKind { System, Session, Address };

inline constexpr const char* kDefaultConfigFile = "/etc/anchord/anchord.conf";

struct Config {
    std::filesystem::path policy = "/etc/anchord/policy.json";
    std::filesystem::path state_dir = "/var/lib/anchord";
    std::filesystem::path dropin_dir = "/etc/anchord/anchors.d";
    BusKind bus = BusKind::System;
    std::string bus_address;                               // set when bus == Address
    std::optional<std::filesystem::path> sandbox_anchors;  // --sandbox ANCHORS_DIR
    std::chrono::seconds drift_interval{60};
    bool create_keyrings = true;  // create _ima/_evm when the policy maps to them
    // The configuration file that was read; nullopt when none was.
    std::optional<std::filesystem::path> config_file;
};

struct ParseResult {
    Config config;
    bool exit_now = false;  // --help, --version or an error: print `output` and exit
    int exit_code = 0;      // 0 for --help/--version, 2 for a usage or configuration error
    std::string output;     // the help or version text, or the error message
};

// Exit statuses of anchord (also listed in --help).
namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int failure = 1;  // a runtime failure (bus, policy, state)
inline constexpr int usage = 2;    // a bad command line or configuration file
}  // namespace exit_code

ParseResult parse_command_line(int argc, const char* const* argv);
// The same, reading `default_config_file` when no --config is given (tests
// use this to stay independent of the machine's /etc).
ParseResult parse_command_line(int argc, const char* const* argv,
                               const std::filesystem::path& default_config_file);

std::string help_text();
std::string version_text();

}  // namespace anchord::config
