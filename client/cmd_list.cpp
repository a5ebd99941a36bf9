// anchorctl list [KEYRING]: the keys of every keyring, or of one.
#include <CLI/CLI.hpp>
#include <memory>

#include "app.hpp"

namespace anchorctl {
namespace {

Colour origin_colour(const std::string& origin) {
    if (origin == "foreign") return Colour::Red;
    if (origin == "anchord") return Colour::Green;
    return Colour::None;
}

void print_keyring(std::ostream& out, const KeyringInfo& k, const Painter& painter) {
    out << painter.paint(k.name, Colour::Bold) << "  (" << k.kernel_name;
    if (k.present) {
        out << ", serial " << k.serial;
    } else {
        out << ", absent on this kernel";
    }
    out << ", role " << (k.role.empty() ? "-" : k.role);
    out << (k.guarded ? ", guarded by the kernel" : ", not guarded by the kernel");
    if (k.sealed) out << ", " << painter.paint("sealed", Colour::Yellow);
    out << "): " << k.keys.size() << (k.keys.size() == 1 ? " key\n" : " keys\n");
    if (k.keys.empty()) return;
    Table table({"SERIAL", "ORIGIN", "FINGERPRINT", "DESCRIPTION"});
    for (const auto& key : k.keys) {
        table.add_row({{std::to_string(key.serial)},
                       {key.origin, origin_colour(key.origin)},
                       {key.fingerprint.value_or("-")},
                       {key.description}});
    }
    table.render(out, painter, "  ");
}

void run_list(Context& ctx, const std::string& only) {
    const auto anchord = ctx.connect();
    auto keyrings = anchord->keyrings();
    if (!only.empty()) {
        std::erase_if(keyrings, [&](const KeyringInfo& k) { return k.name != only; });
        if (keyrings.empty()) {
            throw Failure(anchord::exit_status::failed, client_error::not_found,
                          "anchord exports no keyring named '" + only + "'");
        }
    }
    if (ctx.options.json) {
        Json list = Json::array();
        for (const auto& k : keyrings) list.push_back(to_json(k, true));
        print_json(ctx.out, {{"keyrings", std::move(list)}});
        return;
    }
    const Painter painter = ctx.painter();
    for (std::size_t i = 0; i < keyrings.size(); ++i) {
        if (i > 0) ctx.out << '\n';
        print_keyring(ctx.out, keyrings[i], painter);
    }
}

}  // namespace

void add_list_command(CLI::App& app, Context& context) {
    auto* cmd = app.add_subcommand("list", "List the keys of every keyring, or of KEYRING");
    auto keyring = std::make_shared<std::string>();
    cmd->add_option("KEYRING", *keyring, "Only this keyring")
        ->check(CLI::IsMember(logical_keyring_names()));
    cmd->footer(
        help_footer("Examples:\n"
                    "  anchorctl list\n"
                    "  anchorctl list ima --json\n"));
    cmd->callback([&context, keyring] { run_list(context, *keyring); });
}

}  // namespace anchorctl
