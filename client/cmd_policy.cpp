// anchorctl policy: the policy anchord enforces, and its digest.
#include <CLI/CLI.hpp>

#include "app.hpp"

namespace anchorctl {
namespace {

void run_policy(Context& ctx) {
    const PolicyInfo policy = ctx.connect()->policy();
    auto parsed = Json::parse(policy.policy_json, nullptr, false);
    if (parsed.is_discarded()) throw bad_reply("GetPolicy returned text that is not JSON");
    if (ctx.options.json) {
        print_json(ctx.out, {{"digest", policy.digest}, {"policy", std::move(parsed)}});
        return;
    }
    ctx.out << "Policy digest: " << policy.digest << "\n\n";
    print_json(ctx.out, parsed);
}

}  // namespace

void add_policy_command(CLI::App& app, Context& context) {
    auto* cmd = app.add_subcommand("policy", "Show the active policy and its digest");
    cmd->footer(
        help_footer("The digest is the SHA-256 of the policy file's text, as status shows it.\n"
                    "\n"
                    "Examples:\n"
                    "  anchorctl policy\n"
                    "  anchorctl policy --json | jq .policy.keyrings.ima\n"));
    cmd->callback([&context] { run_policy(context); });
}

}  // namespace anchorctl
