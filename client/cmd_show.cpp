// anchorctl show FINGERPRINT: where a key is, and what anchord knows of it.
#include <CLI/CLI.hpp>
#include <memory>

#include "app.hpp"

namespace anchorctl {
namespace {

struct Holding {
    const KeyringInfo* keyring;
    const KeyEntry* key;
};

bool same_key(const std::optional<std::string>& text, const anchord::Fingerprint& wanted) {
    if (!text) return false;
    const auto parsed = anchord::Fingerprint::parse(*text);
    return parsed && *parsed == wanted;
}

void run_show(Context& ctx, const std::string& text) {
    const auto wanted = anchord::Fingerprint::parse(text);
    if (!wanted) {
        throw usage_failure("'" + text +
                            "' is not a SHA-256 fingerprint (sha256:HEX, 64 hex digits)");
    }
    const std::string fingerprint = wanted->to_string();
    const auto anchord = ctx.connect();
    const auto keyrings = anchord->keyrings();
    const auto manager = anchord->manager();

    std::vector<Holding> holdings;
    for (const auto& k : keyrings) {
        for (const auto& key : k.keys) {
            if (same_key(key.fingerprint, *wanted)) holdings.push_back({&k, &key});
        }
    }
    std::vector<DriftEntry> drift;
    for (const auto& d : manager.drift) {
        if (same_key(d.fingerprint, *wanted)) drift.push_back(d);
    }
    if (holdings.empty() && drift.empty()) {
        throw Failure(anchord::exit_status::failed, client_error::not_found,
                      "no keyring anchord manages holds " + fingerprint);
    }

    if (ctx.options.json) {
        Json found = Json::array();
        for (const auto& h : holdings) {
            Json entry = to_json(*h.key);
            entry.erase("fingerprint");
            entry["keyring"] = h.keyring->name;
            entry["kernel_name"] = h.keyring->kernel_name;
            entry["sealed"] = h.keyring->sealed;
            found.push_back(std::move(entry));
        }
        Json drift_json = Json::array();
        for (const auto& d : drift) drift_json.push_back(to_json(d));
        print_json(ctx.out, {{"fingerprint", fingerprint},
                             {"keyrings", std::move(found)},
                             {"drift", std::move(drift_json)}});
        return;
    }
    const Painter painter = ctx.painter();
    ctx.out << painter.paint(fingerprint, Colour::Bold) << '\n';
    if (holdings.empty()) {
        ctx.out << "  in no keyring\n";
    } else {
        Table table({"KEYRING", "KERNEL NAME", "SERIAL", "ORIGIN", "DESCRIPTION"});
        for (const auto& h : holdings) {
            table.add_row({{h.keyring->name},
                           {h.keyring->kernel_name},
                           {std::to_string(h.key->serial)},
                           {h.key->origin},
                           {h.key->description}});
        }
        table.render(ctx.out, painter, "  ");
    }
    if (!drift.empty()) {
        ctx.out << "Drift:\n";
        Table table({"KEYRING", "KIND", "DETAIL"});
        for (const auto& d : drift) table.add_row({{d.keyring}, {d.kind, Colour::Red}, {d.detail}});
        table.render(ctx.out, painter, "  ");
    }
}

}  // namespace

void add_show_command(CLI::App& app, Context& context) {
    auto* cmd =
        app.add_subcommand("show", "Show which keyrings hold a key, and any drift about it");
    auto fingerprint = std::make_shared<std::string>();
    cmd->add_option("FINGERPRINT", *fingerprint,
                    "SHA-256 of the certificate's DER: sha256:HEX, HEX or AB:CD:...")
        ->required();
    cmd->footer(help_footer(
        "Examples:\n"
        "  anchorctl show sha256:3f1c...e9   (the full 64 hex digits, as anchorctl list shows)\n"
        "  anchorctl show $(openssl x509 -in cert.pem -noout -fingerprint -sha256 | cut -d= "
        "-f2)\n"));
    cmd->callback([&context, fingerprint] { run_show(context, *fingerprint); });
}

}  // namespace anchorctl
