// anchorctl status: the manager's properties and one line per keyring.
#include <CLI/CLI.hpp>

#include "app.hpp"

namespace anchorctl {
namespace {

void print_keyring_table(std::ostream& out, const std::vector<KeyringInfo>& keyrings,
                         const Painter& painter) {
    Table table(
        {"KEYRING", "KERNEL NAME", "SERIAL", "PRESENT", "SEALED", "GUARDED", "ROLE", "KEYS"});
    for (const auto& k : keyrings) {
        table.add_row({{k.name, Colour::Bold},
                       {k.kernel_name},
                       {std::to_string(k.serial)},
                       {std::string(yes_no(k.present)), k.present ? Colour::None : Colour::Dim},
                       {std::string(yes_no(k.sealed)), k.sealed ? Colour::Yellow : Colour::None},
                       {std::string(yes_no(k.guarded))},
                       {k.role},
                       {std::to_string(k.keys.size())}});
    }
    table.render(out, painter);
}

void print_status(Context& ctx, const ManagerInfo& m, const std::vector<KeyringInfo>& keyrings) {
    const Painter painter = ctx.painter();
    std::ostream& out = ctx.out;
    Table summary;
    summary.add_row({{"Version:"}, {m.version}});
    summary.add_row({{"Mode:"}, {m.mode}});
    summary.add_row({{"Policy digest:"}, {m.policy_digest}});
    summary.add_row(
        {{"Compliant:"},
         {std::string(yes_no(m.compliant)), m.compliant ? Colour::Green : Colour::Red}});
    summary.add_row(
        {{"Last reconcile:"}, {format_timestamp_usec(m.last_reconcile_usec).value_or("never")}});
    summary.add_row({{"Drift:"},
                     {m.drift.empty() ? "none" : std::to_string(m.drift.size()) + " entries",
                      m.drift.empty() ? Colour::None : Colour::Red}});
    summary.add_row({{"Provisioning:"},
                     {m.provisioning.empty() ? "no drop-in files"
                                             : std::to_string(m.provisioning.size()) + " files"}});
    summary.render(out, painter);

    if (!m.drift.empty()) {
        out << "\nDrift:\n";
        Table drift({"KEYRING", "KIND", "FINGERPRINT", "DETAIL"});
        for (const auto& d : m.drift) {
            drift.add_row({{d.keyring}, {d.kind, Colour::Red}, {d.fingerprint}, {d.detail}});
        }
        drift.render(out, painter, "  ");
    }
    if (!m.provisioning.empty()) {
        out << "\nProvisioning:\n";
        Table files({"PATH", "KEYRING", "OUTCOME", "REASON"});
        for (const auto& p : m.provisioning) {
            files.add_row({{p.path},
                           {p.keyring},
                           {p.outcome, p.outcome == "refused" ? Colour::Red : Colour::Green},
                           {p.reason}});
        }
        files.render(out, painter, "  ");
    }
    out << '\n';
    print_keyring_table(out, keyrings, painter);
}

void run_status(Context& ctx) {
    const auto anchord = ctx.connect();
    const ManagerInfo manager = anchord->manager();
    const auto keyrings = anchord->keyrings();
    if (ctx.options.json) {
        Json document = to_json(manager);
        document["keyrings"] = Json::array();
        for (const auto& k : keyrings) document["keyrings"].push_back(to_json(k, false));
        print_json(ctx.out, document);
        return;
    }
    print_status(ctx, manager, keyrings);
}

}  // namespace

void add_status_command(CLI::App& app, Context& context) {
    auto* cmd = app.add_subcommand(
        "status", "Show anchord's state: policy, compliance, drift, provisioning, keyrings");
    cmd->footer(
        help_footer("Examples:\n"
                    "  anchorctl status\n"
                    "  anchorctl status --json | jq .compliant\n"));
    cmd->callback([&context] { run_status(context); });
}

}  // namespace anchorctl
