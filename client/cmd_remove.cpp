// anchorctl remove FINGERPRINT --keyring K: unlink a key anchord enrolled.
#include <CLI/CLI.hpp>
#include <memory>

#include "app.hpp"

namespace anchorctl {
namespace {

struct RemoveArgs {
    std::string fingerprint;
    std::string keyring;
};

void run_remove(Context& ctx, const RemoveArgs& args) {
    const auto parsed = anchord::Fingerprint::parse(args.fingerprint);
    if (!parsed) {
        throw usage_failure("'" + args.fingerprint +
                            "' is not a SHA-256 fingerprint (sha256:HEX, 64 hex digits)");
    }
    const std::string fingerprint = parsed->to_string();
    ctx.connect()->remove(fingerprint, args.keyring);
    if (ctx.options.json) {
        print_json(ctx.out,
                   {{"fingerprint", fingerprint}, {"keyring", args.keyring}, {"removed", true}});
        return;
    }
    ctx.out << "Removed " << fingerprint << " from " << args.keyring << ".\n";
}

}  // namespace

void add_remove_command(CLI::App& app, Context& context) {
    auto* cmd = app.add_subcommand("remove", "Unlink a key anchord enrolled, and forget it");
    auto args = std::make_shared<RemoveArgs>();
    cmd->add_option("FINGERPRINT", args->fingerprint,
                    "SHA-256 of the certificate's DER: sha256:HEX, HEX or AB:CD:...")
        ->required();
    cmd->add_option("-k,--keyring", args->keyring, "The keyring to remove it from")
        ->required()
        ->check(CLI::IsMember(logical_keyring_names()));
    cmd->footer(
        help_footer("Examples:\n"
                    "  anchorctl remove --keyring ima sha256:3f1c...e9   (the full 64 hex digits)\n"
                    "  anchorctl remove -k ima $(anchorctl list ima --json | jq -r "
                    "'.keyrings[0].keys[0].fingerprint')\n"));
    cmd->callback([&context, args] { run_remove(context, *args); });
}

}  // namespace anchorctl
