#include "app.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <string_view>

#ifndef ANCHORCTL_VERSION
#define ANCHORCTL_VERSION "unknown"
#endif

namespace anchorctl {

const char* const kExitStatusHelp =
    "Exit status:\n"
    "  0  done\n"
    "  1  refused or failed (a certificate refused, a file unreadable, drift left)\n"
    "  2  usage error\n"
    "  3  anchord unreachable (not running, or no bus)\n"
    "  4  not authorized\n";

namespace {

const char* const kGlobalHelp =
    "Global options (before or after the command): --json, --bus-address ADDR, --session;\n"
    "see anchorctl --help.\n";

const char* const kMainExamples =
    "Examples:\n"
    "  anchorctl status\n"
    "  anchorctl verify --keyring ima signing.pem\n"
    "  anchorctl enroll --keyring secondary intermediate.der\n"
    "  anchorctl --session list ima --json\n";

// --json is known before CLI11 has parsed anything, so that even a usage
// error is reported as JSON when JSON was asked for.
bool json_requested(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--") return false;
        if (arg == "--json") return true;
    }
    return false;
}

}  // namespace

std::string help_footer(const std::string& examples) {
    return "\n" + examples + "\n" + kGlobalHelp + "\n" + kExitStatusHelp;
}

const std::vector<std::string>& logical_keyring_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto k : anchord::kAllLogicalKeyrings) out.emplace_back(anchord::to_string(k));
        return out;
    }();
    return names;
}

void Context::report(const Failure& failure) {
    if (options.json) {
        print_json(out, {{"error", error_json(failure)}});
    } else {
        err << "anchorctl: " << failure.what() << '\n';
    }
    exit_status = failure.exit_status();
}

int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err, std::istream& in,
        int out_fd) {
    Context context(out, err, in, out_fd);
    context.options.json = json_requested(argc, argv);

    CLI::App app(
        "anchorctl: manage the trust anchors that anchord loads into the kernel's "
        "IMA/EVM keyrings.",
        "anchorctl");
    app.footer("\n" + std::string(kMainExamples) + "\n" + kExitStatusHelp +
               "\nMore: anchorctl COMMAND --help, anchorctl(1), docs/anchorctl-json.md.\n");
    app.get_formatter()->column_width(32);
    app.set_version_flag("--version", ANCHORCTL_VERSION);
    app.require_subcommand(1);
    // Global options are accepted after the subcommand too.
    app.fallthrough();
    app.add_flag("--json", context.options.json,
                 "Print one JSON document on standard output (schema: docs/anchorctl-json.md); "
                 "no colour");
    auto* address =
        app.add_option("--bus-address", context.options.bus.address,
                       "Talk to anchord on this D-Bus address (unix:path=...)")
            ->type_name("ADDR")
            ->check([](const std::string& value) {
                return value.empty() ? std::string("the address is empty") : std::string();
            });
    auto* session = app.add_flag("--session", context.options.bus.session,
                                 "Talk to anchord on the session bus (default: the system bus)");
    address->excludes(session);

    add_status_command(app, context);
    add_list_command(app, context);
    add_show_command(app, context);
    add_verify_command(app, context);
    add_enroll_command(app, context);
    add_remove_command(app, context);
    add_seal_command(app, context);
    add_reconcile_command(app, context);
    add_policy_command(app, context);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Success& e) {  // --help, --version
        return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
        context.report(usage_failure(std::string(e.what()) +
                                     (context.options.json ? "" : "\nRun 'anchorctl --help'.")));
        return context.exit_status;
    } catch (const Failure& failure) {
        context.report(failure);
    } catch (const std::exception& e) {
        context.report(Failure(anchord::exit_status::failed, client_error::internal,
                               std::string("unexpected failure: ") + e.what()));
    }
    return context.exit_status;
}

}  // namespace anchorctl
