#include "certificates.hpp"

#include <CLI/CLI.hpp>

namespace anchorctl {

void add_certificate_args(CLI::App& command, CertificateArgs& args) {
    command
        .add_option("FILE", args.files,
                    "Certificates: DER, PEM or a PEM bundle; '-' reads standard input")
        ->required();
    command.add_option("-k,--keyring", args.keyring, "The target keyring")
        ->required()
        ->check(CLI::IsMember(logical_keyring_names()));
}

std::vector<CertificateResult> verify_bundles(Anchord& anchord, const std::vector<Bundle>& bundles,
                                              std::size_t first, const std::string& keyring,
                                              std::uint32_t first_index) {
    std::vector<CertificateResult> out;
    for (std::size_t i = first; i < bundles.size(); ++i) {
        auto results = anchord.verify(bundles[i].bytes, keyring);
        attribute(results, bundles[i], first_index + static_cast<std::uint32_t>(out.size()));
        out.insert(out.end(), results.begin(), results.end());
    }
    return out;
}

Json results_json(const std::vector<CertificateResult>& results) {
    Json out = Json::array();
    for (const auto& result : results) out.push_back(to_json(result));
    return out;
}

void print_results(Context& ctx, const std::vector<CertificateResult>& results, ResultView view,
                   bool (*details_for)(const CertificateResult&)) {
    const Painter painter = ctx.painter();
    bool previous_had_details = false;
    for (const auto& result : results) {
        ResultView this_view = view;
        this_view.details = view.details && details_for(result);
        if (previous_had_details || (this_view.details && &result != &results.front())) {
            ctx.out << '\n';
        }
        print_result(ctx.out, result, painter, this_view);
        previous_had_details = this_view.details;
    }
}

}  // namespace anchorctl
