// anchorctl enroll FILE... --keyring K [--partial]: link certificates into a
// keyring through anchord's checks. Enroll is all or nothing and fails with
// an error; when it refuses, anchorctl asks Verify about the same bytes so
// that every check can be shown.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>

#include "certificates.hpp"

namespace anchorctl {
namespace {

struct EnrollArgs : CertificateArgs {
    bool partial = false;
};

// The errors whose details Verify can show.
bool is_refusal(const Failure& failure) {
    const auto code = failure.code();
    return code == anchord::ErrorCode::PolicyRejected ||
           code == anchord::ErrorCode::KernelRejected ||
           code == anchord::ErrorCode::InvalidCertificate;
}

bool enrolled(const CertificateResult& r) {
    return r.accepted && r.serial.has_value();
}

void print_text(Context& ctx, const EnrollArgs& args, const std::vector<CertificateResult>& results,
                const std::optional<Failure>& failure, bool refused) {
    // A refused bundle shows every check of every certificate; a success
    // shows one line each, with the checks of what --partial left out.
    print_results(
        ctx, results, {.enroll = true, .details = true},
        refused ? +[](const CertificateResult&) { return true; }
                : +[](const CertificateResult& r) { return !r.accepted; });
    const auto count =
        static_cast<std::size_t>(std::count_if(results.begin(), results.end(), enrolled));
    if (!results.empty()) ctx.out << '\n';
    ctx.out << "Enrolled " << count << " of " << results.size() << " certificate"
            << (results.size() == 1 ? "" : "s") << " into " << args.keyring << ".\n";
    if (failure) {
        ctx.err << "anchorctl: " << (refused ? "enroll refused: " : "") << failure->what() << '\n';
    }
}

void run_enroll(Context& ctx, const EnrollArgs& args) {
    const auto bundles = make_bundles(read_inputs(args.files, ctx.in));
    const auto anchord = ctx.connect();
    std::vector<CertificateResult> results;
    std::optional<Failure> failure;
    bool refused = false;
    for (std::size_t i = 0; i < bundles.size() && !failure; ++i) {
        const auto first_index = static_cast<std::uint32_t>(results.size());
        try {
            // Text shows no check of an enrolled certificate, so it asks for
            // none; JSON keeps every one (docs/anchorctl-json.md).
            auto enrolled_now =
                anchord->enroll(bundles[i].bytes, args.keyring,
                                {.partial = args.partial, .brief = !ctx.options.json});
            attribute(enrolled_now, bundles[i], first_index);
            results.insert(results.end(), enrolled_now.begin(), enrolled_now.end());
        } catch (const Failure& f) {
            failure = f;
            refused = is_refusal(f);
            if (!refused) break;
            // This bundle and those not sent yet: what Verify says of them.
            try {
                const auto details =
                    verify_bundles(*anchord, bundles, i, args.keyring, first_index);
                results.insert(results.end(), details.begin(), details.end());
            } catch (const Failure&) {
                // The refusal stays the answer; its message names the certificate.
            }
        }
    }
    // Nothing gathered (a Sealed keyring, AccessDenied on the first call):
    // the error alone says it all.
    if (failure && results.empty()) throw *failure;
    const bool all_enrolled =
        !failure && !results.empty() && std::all_of(results.begin(), results.end(), enrolled);

    if (ctx.options.json) {
        Json document = {{"keyring", args.keyring},
                         {"partial", args.partial},
                         {"enrolled", all_enrolled},
                         {"results", results_json(results)}};
        if (failure) document["error"] = error_json(*failure);
        print_json(ctx.out, document);
    } else {
        print_text(ctx, args, results, failure, refused);
    }
    ctx.exit_status =
        failure ? failure->exit_status()
                : (all_enrolled ? anchord::exit_status::ok : anchord::exit_status::failed);
}

}  // namespace

void add_enroll_command(CLI::App& app, Context& context) {
    auto* cmd = app.add_subcommand("enroll", "Enroll certificates into a keyring, all or nothing");
    auto args = std::make_shared<EnrollArgs>();
    add_certificate_args(*cmd, *args);
    cmd->add_flag("--partial", args->partial,
                  "Enroll what is accepted and report the rest, instead of refusing the bundle");
    cmd->footer(help_footer(
        "anchord checks each certificate against its policy, links it into the keyring and\n"
        "records it, so that it is applied again at every boot.\n"
        "When all FILEs are PEM they are one bundle, enrolled all or nothing; otherwise each FILE\n"
        "is its own Enroll call, in order, and anchorctl stops at the first refused one (what\n"
        "was enrolled before stays). A refusal shows every check of every certificate not\n"
        "enrolled, from a Verify of the same bytes.\n"
        "\n"
        "Examples:\n"
        "  anchorctl enroll --keyring secondary intermediate.der\n"
        "  anchorctl enroll -k ima signing-a.pem signing-b.pem\n"
        "  anchorctl enroll -k ima --partial bundle.pem --json\n"));
    cmd->callback([&context, args] { run_enroll(context, *args); });
}

}  // namespace anchorctl
