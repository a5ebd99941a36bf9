// anchorctl seal KEYRING: refuse every further link into a keyring.
#include <CLI/CLI.hpp>
#include <memory>

#include "app.hpp"

namespace anchorctl {
namespace {

void run_seal(Context& ctx, const std::string& keyring) {
    const bool kernel_enforced = ctx.connect()->seal(keyring);
    if (ctx.options.json) {
        print_json(ctx.out,
                   {{"keyring", keyring}, {"sealed", true}, {"kernel_enforced", kernel_enforced}});
        return;
    }
    ctx.out << "Sealed " << keyring << ": ";
    if (kernel_enforced) {
        ctx.out << "the kernel refuses every further link, root's included, until reboot; "
                   "anchord seals it again at start.\n";
    } else {
        ctx.out << "anchord refuses every further enrollment (the kernel will not seal this "
                   "keyring for anchord: the kernel made it, or its permissions are not "
                   "anchord's to change); a key linked behind anchord's back shows as drift.\n";
    }
}

}  // namespace

void add_seal_command(CLI::App& app, Context& context) {
    auto* cmd = app.add_subcommand("seal", "Refuse every further link into KEYRING");
    auto keyring = std::make_shared<std::string>();
    cmd->add_option("KEYRING", *keyring, "The keyring to seal")
        ->required()
        ->check(CLI::IsMember(logical_keyring_names()));
    cmd->footer(
        help_footer("A seal cannot be undone until reboot when the kernel enforces it.\n"
                    "\n"
                    "Examples:\n"
                    "  anchorctl seal ima\n"
                    "  anchorctl seal evm --json\n"));
    cmd->callback([&context, keyring] { run_seal(context, *keyring); });
}

}  // namespace anchorctl
