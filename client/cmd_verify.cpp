// anchorctl verify FILE... --keyring K: a dry run, every check shown.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>

#include "certificates.hpp"

namespace anchorctl {
namespace {

void run_verify(Context& ctx, const CertificateArgs& args) {
    const auto bundles = make_bundles(read_inputs(args.files, ctx.in));
    const auto anchord = ctx.connect();
    std::vector<CertificateResult> results;
    std::optional<Failure> failure;
    try {
        results = verify_bundles(*anchord, bundles, 0, args.keyring, 0);
    } catch (const Failure& f) {
        // Nothing gathered yet: the error alone says it all.
        if (results.empty()) throw;
        failure = f;
    }
    const std::size_t accepted = static_cast<std::size_t>(std::count_if(
        results.begin(), results.end(), [](const CertificateResult& r) { return r.accepted; }));
    const bool all_accepted = !failure && !results.empty() && accepted == results.size();

    if (ctx.options.json) {
        Json document = {{"keyring", args.keyring},
                         {"accepted", all_accepted},
                         {"results", results_json(results)}};
        if (failure) document["error"] = error_json(*failure);
        print_json(ctx.out, document);
    } else {
        print_results(ctx, results, {}, [](const CertificateResult&) { return true; });
        if (!results.empty()) ctx.out << '\n';
        ctx.out << accepted << " of " << results.size() << " certificate"
                << (results.size() == 1 ? "" : "s") << " accepted for " << args.keyring << ".\n";
        if (failure) ctx.err << "anchorctl: " << failure->what() << '\n';
    }
    ctx.exit_status =
        failure ? failure->exit_status()
                : (all_accepted ? anchord::exit_status::ok : anchord::exit_status::failed);
}

}  // namespace

void add_verify_command(CLI::App& app, Context& context) {
    auto* cmd = app.add_subcommand("verify",
                                   "Dry run: show every check of an enrollment, changing nothing");
    auto args = std::make_shared<CertificateArgs>();
    add_certificate_args(*cmd, *args);
    cmd->footer(help_footer(
        "anchord checks each certificate against its policy for the keyring and asks the kernel\n"
        "on a scratch keyring with the same restriction; a certificate is accepted only when\n"
        "both accept. Every check is shown with its reason, failed ones first.\n"
        "Several FILEs are sent as one bundle when all are PEM, else one call per FILE; the\n"
        "results are one per certificate in the order given. Exit status 1 when any is refused.\n"
        "\n"
        "Examples:\n"
        "  anchorctl verify --keyring ima signing.pem\n"
        "  anchorctl verify -k secondary intermediate.der --json\n"
        "  cat chain.pem | anchorctl verify -k ima -\n"));
    cmd->callback([&context, args] { run_verify(context, *args); });
}

}  // namespace anchorctl
