// What verify and enroll share: their FILE... and --keyring arguments,
// sending bundles, and showing per-certificate results.
#pragma once

#include <string>
#include <vector>

#include "app.hpp"
#include "files.hpp"

namespace anchorctl {

struct CertificateArgs {
    std::vector<std::string> files;
    std::string keyring;
};

void add_certificate_args(CLI::App& command, CertificateArgs& args);

// Verify for bundles[first...], their results numbered on from first_index.
std::vector<CertificateResult> verify_bundles(Anchord& anchord, const std::vector<Bundle>& bundles,
                                              std::size_t first, const std::string& keyring,
                                              std::uint32_t first_index);

Json results_json(const std::vector<CertificateResult>& results);

// Each result, blank lines between, with `view`'s details for those
// `details_for` selects.
void print_results(Context& ctx, const std::vector<CertificateResult>& results, ResultView view,
                   bool (*details_for)(const CertificateResult&));

}  // namespace anchorctl
