// anchorctl reconcile: re-apply the desired state and show the drift left.
#include <CLI/CLI.hpp>

#include "app.hpp"

namespace anchorctl {
namespace {

void run_reconcile(Context& ctx) {
    const auto drift = ctx.connect()->reconcile();
    ctx.exit_status = drift.empty() ? anchord::exit_status::ok : anchord::exit_status::failed;
    if (ctx.options.json) {
        Json entries = Json::array();
        for (const auto& d : drift) entries.push_back(to_json(d));
        print_json(ctx.out, {{"compliant", drift.empty()}, {"drift", std::move(entries)}});
        return;
    }
    const Painter painter = ctx.painter();
    if (drift.empty()) {
        ctx.out << painter.paint("Compliant", Colour::Green)
                << ": the kernel holds the desired state.\n";
        return;
    }
    Table table({"KEYRING", "KIND", "FINGERPRINT", "DETAIL"});
    for (const auto& d : drift) {
        table.add_row({{d.keyring}, {d.kind, Colour::Red}, {d.fingerprint}, {d.detail}});
    }
    table.render(ctx.out, painter);
    ctx.out << '\n'
            << painter.paint("Not compliant", Colour::Red) << ": " << drift.size()
            << (drift.size() == 1 ? " drift entry" : " drift entries")
            << " left after reconciling.\n";
}

}  // namespace

void add_reconcile_command(CLI::App& app, Context& context) {
    auto* cmd =
        app.add_subcommand("reconcile", "Re-apply the desired state and show the drift left");
    cmd->footer(help_footer(
        "Exit status 1 when drift is left (a foreign key, a key linked into a sealed keyring).\n"
        "\n"
        "Examples:\n"
        "  anchorctl reconcile\n"
        "  anchorctl reconcile --json | jq .compliant\n"));
    cmd->callback([&context] { run_reconcile(context); });
}

}  // namespace anchorctl
