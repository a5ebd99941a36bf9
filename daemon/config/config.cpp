#include "config/config.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <system_error>
#include <utility>

#ifndef ANCHORD_VERSION
#define ANCHORD_VERSION "unknown"
#endif

namespace anchord::config {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTryHelp = "Try 'anchord --help' for more information.\n";

// A usage or configuration error: carries the text for the person.
struct UsageError {
    std::string message;
};

std::string_view trim(std::string_view s) {
    constexpr std::string_view kSpace = " \t\r\n\v\f";
    auto b = s.find_first_not_of(kSpace);
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(kSpace);
    return s.substr(b, e - b + 1);
}

std::string in_quotes(std::string_view s) {
    return "'" + std::string(s) + "'";
}

// The settings one source (the file or the command line) gave.
struct Settings {
    std::optional<fs::path> policy;
    std::optional<fs::path> state_dir;
    std::optional<fs::path> dropin_dir;
    std::optional<BusKind> bus;
    std::string bus_address;
    std::optional<fs::path> sandbox;
    std::optional<std::chrono::seconds> drift_interval;
};

// Whole seconds from 1 to INT32_MAX; nullopt on anything else ("60s", "-1",
// "1e3", "").
std::optional<std::chrono::seconds> parse_seconds(std::string_view text) {
    std::int64_t v = 0;
    if (text.empty() || text.front() == '+' || text.front() == '-') return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    if (v < 1 || v > 2147483647) return std::nullopt;
    return std::chrono::seconds{v};
}

constexpr std::string_view kSecondsRule = "a whole number of seconds from 1 to 2147483647";

// "system", "session", or a D-Bus address ("unix:path=...", "tcp:host=...").
bool looks_like_bus_address(std::string_view text) {
    auto colon = text.find(':');
    return colon != std::string_view::npos && colon > 0;
}

// ---------------------------------------------------------------------------
// The configuration file

void read_config_file(const fs::path& file, Settings& out) {
    std::error_code ec;
    auto status = fs::status(file, ec);
    if (ec) {
        throw UsageError{"anchord: cannot read the configuration file " + file.string() + ": " +
                         ec.message() + "\n"};
    }
    if (status.type() != fs::file_type::regular) {
        throw UsageError{"anchord: the configuration file " + file.string() +
                         " is not a regular file\n"};
    }
    std::ifstream in(file);
    if (!in) {
        int err = errno;
        throw UsageError{"anchord: cannot read the configuration file " + file.string() + ": " +
                         std::strerror(err) + "\n"};
    }
    std::map<std::string, int, std::less<>> seen;  // key -> line first set
    std::string raw;
    int line_no = 0;
    while (std::getline(in, raw)) {
        ++line_no;
        std::string where = file.string() + ":" + std::to_string(line_no) + ": ";
        auto fail = [&](const std::string& what) {
            return UsageError{"anchord: " + where + what + "\n"};
        };
        std::string_view line = trim(raw);
        // '#' starts a comment only at the beginning of a line: paths may contain it.
        if (line.empty() || line.front() == '#') continue;
        auto eq = line.find('=');
        if (eq == std::string_view::npos) {
            throw fail("expected 'key = value', found " + in_quotes(line));
        }
        std::string key(trim(line.substr(0, eq)));
        std::string_view value = trim(line.substr(eq + 1));
        if (key.empty()) throw fail("a line with no key before '='");
        if (value.empty()) throw fail("the key " + in_quotes(key) + " has no value");
        if (auto it = seen.find(key); it != seen.end()) {
            throw fail("the key " + in_quotes(key) + " is set again (first at line " +
                       std::to_string(it->second) + ")");
        }

        auto path_value = [&]() {
            fs::path p(value);
            if (!p.is_absolute()) {
                throw fail("the value of " + in_quotes(key) + " must be an absolute path, found " +
                           in_quotes(value));
            }
            return p;
        };
        if (key == "policy") {
            out.policy = path_value();
        } else if (key == "state-dir") {
            out.state_dir = path_value();
        } else if (key == "dropin-dir") {
            out.dropin_dir = path_value();
        } else if (key == "sandbox") {
            out.sandbox = path_value();
        } else if (key == "bus") {
            if (value == "system") {
                out.bus = BusKind::System;
            } else if (value == "session") {
                out.bus = BusKind::Session;
            } else if (looks_like_bus_address(value)) {
                out.bus = BusKind::Address;
                out.bus_address = std::string(value);
            } else {
                throw fail(
                    "the value of 'bus' must be system, session or a D-Bus address such "
                    "as unix:path=/run/anchord/bus, found " +
                    in_quotes(value));
            }
        } else if (key == "drift-interval") {
            out.drift_interval = parse_seconds(value);
            if (!out.drift_interval) {
                throw fail("the value of 'drift-interval' must be " + std::string(kSecondsRule) +
                           ", found " + in_quotes(value));
            }
        } else {
            throw fail("unknown key " + in_quotes(key) +
                       " (known: policy, state-dir, dropin-dir, bus, sandbox, drift-interval)");
        }
        seen.emplace(std::move(key), line_no);
    }
    if (in.bad()) {
        throw UsageError{"anchord: error reading the configuration file " + file.string() + "\n"};
    }
}

// ---------------------------------------------------------------------------
// The command line

enum class Opt {
    Policy,
    StateDir,
    DropinDir,
    BusAddress,
    Session,
    System,
    Sandbox,
    ConfigFile,
    DriftInterval,
    Help,
    Version
};

struct OptionSpec {
    std::string_view name;
    Opt opt;
    std::string_view value_name;  // empty: a flag
};

constexpr std::array<OptionSpec, 11> kOptions{{
    {"--policy", Opt::Policy, "FILE"},
    {"--state-dir", Opt::StateDir, "DIR"},
    {"--dropin-dir", Opt::DropinDir, "DIR"},
    {"--bus-address", Opt::BusAddress, "ADDRESS"},
    {"--session", Opt::Session, ""},
    {"--system", Opt::System, ""},
    {"--sandbox", Opt::Sandbox, "ANCHORS_DIR"},
    {"--config", Opt::ConfigFile, "FILE"},
    {"--drift-interval", Opt::DriftInterval, "SECONDS"},
    {"--help", Opt::Help, ""},
    {"--version", Opt::Version, ""},
}};

struct CommandLine {
    Settings settings;
    std::optional<fs::path> config_file;
    std::string bus_option;  // the option that chose the bus, for conflicts
    bool help = false;
    bool version = false;
};

UsageError usage_error(const std::string& what) {
    return UsageError{"anchord: " + what + "\n" + std::string(kTryHelp)};
}

// Relative paths are resolved now, so a later chdir cannot change them.
fs::path absolute_path(std::string_view option, std::string_view value) {
    std::error_code ec;
    fs::path p = fs::absolute(fs::path(value), ec);
    if (ec) {
        throw usage_error("cannot resolve the path " + in_quotes(value) + " given to " +
                          std::string(option) + ": " + ec.message());
    }
    return p;
}

CommandLine scan(int argc, const char* const* argv) {
    CommandLine cl;
    auto choose_bus = [&](std::string_view option, BusKind kind) {
        if (!cl.bus_option.empty() && cl.bus_option != option) {
            throw usage_error(cl.bus_option + " and " + std::string(option) +
                              " cannot be combined: choose one bus");
        }
        cl.bus_option = std::string(option);
        cl.settings.bus = kind;
    };

    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i] != nullptr ? argv[i] : "";
        if (!arg.starts_with("--") || arg == "--") {
            throw usage_error("unexpected argument " + in_quotes(arg) +
                              ": anchord takes options only");
        }
        std::string_view name = arg;
        std::optional<std::string_view> inline_value;
        if (auto eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            inline_value = arg.substr(eq + 1);
        }
        const OptionSpec* spec = nullptr;
        for (const auto& s : kOptions) {
            if (s.name == name) spec = &s;
        }
        if (spec == nullptr) throw usage_error("unknown option " + in_quotes(name));

        std::string_view value;
        if (spec->value_name.empty()) {
            if (inline_value) throw usage_error("option " + std::string(name) + " takes no value");
        } else if (inline_value) {
            value = *inline_value;
        } else if (i + 1 < argc && argv[i + 1] != nullptr) {
            value = argv[++i];
        } else {
            throw usage_error("option " + std::string(name) + " needs a value (" +
                              std::string(spec->value_name) + ")");
        }
        if (!spec->value_name.empty() && value.empty()) {
            throw usage_error("option " + std::string(name) + " needs a non-empty " +
                              std::string(spec->value_name));
        }

        switch (spec->opt) {
            case Opt::Policy:
                cl.settings.policy = absolute_path(name, value);
                break;
            case Opt::StateDir:
                cl.settings.state_dir = absolute_path(name, value);
                break;
            case Opt::DropinDir:
                cl.settings.dropin_dir = absolute_path(name, value);
                break;
            case Opt::Sandbox:
                cl.settings.sandbox = absolute_path(name, value);
                break;
            case Opt::ConfigFile:
                cl.config_file = absolute_path(name, value);
                break;
            case Opt::BusAddress:
                if (!looks_like_bus_address(value)) {
                    throw usage_error(
                        "option --bus-address needs a D-Bus address such as "
                        "unix:path=/run/anchord/bus, found " +
                        in_quotes(value));
                }
                choose_bus(name, BusKind::Address);
                cl.settings.bus_address = std::string(value);
                break;
            case Opt::Session:
                choose_bus(name, BusKind::Session);
                break;
            case Opt::System:
                choose_bus(name, BusKind::System);
                break;
            case Opt::DriftInterval:
                cl.settings.drift_interval = parse_seconds(value);
                if (!cl.settings.drift_interval) {
                    throw usage_error("option --drift-interval needs " + std::string(kSecondsRule) +
                                      ", found " + in_quotes(value));
                }
                break;
            case Opt::Help:
                cl.help = true;
                return cl;  // --help wins over anything after it
            case Opt::Version:
                cl.version = true;
                return cl;
        }
    }
    return cl;
}

void apply(const Settings& s, Config& c) {
    if (s.policy) c.policy = *s.policy;
    if (s.state_dir) c.state_dir = *s.state_dir;
    if (s.dropin_dir) c.dropin_dir = *s.dropin_dir;
    if (s.bus) {
        c.bus = *s.bus;
        c.bus_address = *s.bus == BusKind::Address ? s.bus_address : std::string();
    }
    if (s.sandbox) c.sandbox_anchors = *s.sandbox;
    if (s.drift_interval) c.drift_interval = *s.drift_interval;
}

}  // namespace

std::string version_text() {
    return "anchord " ANCHORD_VERSION "\n";
}

std::string help_text() {
    return R"(NAME
    anchord - vets X.509 trust anchors and enrolls them into the kernel's
    IMA/EVM keyrings

SYNOPSIS
    anchord [--config FILE] [--policy FILE] [--state-dir DIR]
            [--dropin-dir DIR] [--system | --session | --bus-address ADDRESS]
            [--sandbox ANCHORS_DIR] [--drift-interval SECONDS]
    anchord --help | --version

DESCRIPTION
    anchord checks certificates against a JSON policy, links the ones it
    accepts into the kernel's keyrings, records what it enrolled and which
    keyrings it sealed, and applies that record again when it starts. It
    enrolls the certificates found in the drop-in directory, watches the
    keyrings for drift from the record, and serves the D-Bus API
    io.github.anchord1 that anchorctl(1) uses. Changes through the bus are
    authorized by polkit (actions io.github.anchord1.enroll, .remove, .seal,
    .reconcile, .reload-policy); where polkit is not on the bus only root
    may make them.

OPTIONS
    Options override the configuration file; values may also be given as
    --option=VALUE. Relative paths are resolved against the working
    directory.

    --config FILE
        Read settings from FILE, which must exist. Without this option
        /etc/anchord/anchord.conf is read if it exists.

    --policy FILE
        The JSON policy that certificates are checked against.
        Default: /etc/anchord/policy.json.

    --state-dir DIR
        Where anchord keeps state.json, its record of enrolled
        certificates, sealed keyrings and unfinished operations. Created
        with mode 0700 when missing. Default: /var/lib/anchord.

    --dropin-dir DIR
        Certificates (DER or PEM) to enroll when anchord starts, one
        subdirectory per logical keyring: DIR/secondary/, DIR/ima/,
        DIR/evm/. Symbolic links to regular files are followed, so the
        places distributions already use can be linked in (see
        docs/configuration.md). Default: /etc/anchord/anchors.d.

    --system
        Serve on the system bus (the default). The environment variable
        DBUS_SYSTEM_BUS_ADDRESS, when set, gives its address.

    --session
        Serve on the session bus of the invoking user.

    --bus-address ADDRESS
        Serve on the bus at ADDRESS, for example
        unix:path=/run/anchord-test/bus.

    --sandbox ANCHORS_DIR
        Leave the machine's keyrings alone: build a private set of keyrings
        under the session keyring, trusting the certificates in
        ANCHORS_DIR as their built-in roots, and enroll into those. For
        trying a policy or a bundle without risk. Default: off.

    --drift-interval SECONDS
        How often to compare the kernel's keyrings with the record and
        report drift, in whole seconds. Default: 60.

    --help
        Print this help and exit.

    --version
        Print the version and exit.

CONFIGURATION FILE
    One setting per line, 'key = value'. Blank lines and lines whose first
    non-blank character is '#' are ignored; '#' elsewhere is part of the
    value. Values are not quoted; surrounding blanks are dropped. Paths
    must be absolute. Each key may appear once. Keys:

        policy = FILE               as --policy
        state-dir = DIR             as --state-dir
        dropin-dir = DIR            as --dropin-dir
        bus = system | session | ADDRESS
                                    as --system, --session, --bus-address
        sandbox = ANCHORS_DIR       as --sandbox
        drift-interval = SECONDS    as --drift-interval

    An unknown key or a bad value is an error naming the file and line;
    anchord then does not start.

FILES
    /etc/anchord/anchord.conf   the configuration file
    /etc/anchord/policy.json    the policy
    /etc/anchord/anchors.d/     drop-in certificates, one directory per keyring
    /var/lib/anchord/state.json the record of what anchord enrolled

SIGNALS
    SIGTERM, SIGINT
        Stop: finish the request under way and exit 0. Enrolled
        certificates stay in the kernel.
    SIGHUP
        Load the policy file again. A policy that does not load is
        reported and the previous one stays in force.

EXIT STATUS
    0   stopped on request, or --help/--version
    1   a failure while running (the bus, the policy, the state file)
    2   a bad command line or configuration file

SEE ALSO
    anchorctl(1), docs/configuration.md
)";
}

ParseResult parse_command_line(int argc, const char* const* argv) {
    return parse_command_line(argc, argv, kDefaultConfigFile);
}

ParseResult parse_command_line(int argc, const char* const* argv,
                               const std::filesystem::path& default_config_file) {
    ParseResult result;
    try {
        CommandLine cl = scan(argc, argv);
        if (cl.help || cl.version) {
            result.exit_now = true;
            result.exit_code = exit_code::ok;
            result.output = cl.help ? help_text() : version_text();
            return result;
        }

        Settings from_file;
        if (cl.config_file) {
            // Named explicitly: a missing file is a mistake worth stopping for.
            read_config_file(*cl.config_file, from_file);
            result.config.config_file = *cl.config_file;
        } else {
            std::error_code ec;
            if (fs::exists(default_config_file, ec)) {
                read_config_file(default_config_file, from_file);
                result.config.config_file = default_config_file;
            } else if (ec && ec != std::errc::no_such_file_or_directory) {
                throw UsageError{"anchord: cannot look for the configuration file " +
                                 default_config_file.string() + ": " + ec.message() + "\n"};
            }
        }
        apply(from_file, result.config);
        apply(cl.settings, result.config);
    } catch (const UsageError& e) {
        result = ParseResult{};
        result.exit_now = true;
        result.exit_code = exit_code::usage;
        result.output = e.message;
    }
    return result;
}

}  // namespace anchord::config
