// Internal to the verdict engine (policy/verdict.cpp, policy/chain.cpp): the
// graph of certificates and kernel keys a chain may be built from, and the
// bounded path search over it. The rules that judge a link live in
// verdict.cpp; the search only asks them, so one set of rules both steers the
// search and explains the verdict.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/policy.hpp"
#include "anchord/verdict.hpp"

namespace anchord::detail {

// One certificate or kernel key the walk may step on. Node 0 is always the
// enrollee.
struct ChainNode {
    const Certificate* certificate = nullptr;  // null for an opaque kernel key
    const OpaqueKey* opaque = nullptr;
    // Where it was found: the first trusted keyring holding it for an anchor,
    // otherwise any keyring holding it; nullopt for a supplied intermediate.
    std::optional<LogicalKeyring> keyring;
    bool anchor = false;  // in a keyring the target trusts, or pinned
    bool pinned = false;
    // The last three are filled by ChainGraph, only for the nodes at or
    // above the enrollee (the only ones a chain can hold).
    bool self_issued = false;  // subject == issuer
    bool self_signed = false;  // self-issued and its own key verifies it
    std::string label;         // "'CN=x' (sha256:0123abcd…)" for reasons
};

enum class Severity : std::uint8_t { Fail, Warn };

// One thing wrong (or worth a warning) about a certificate or a link, filed
// under the check id that reports it.
struct Problem {
    std::string_view check;  // a check id literal
    Severity severity = Severity::Fail;
    std::string reason;
};

inline std::size_t count_failures(const std::vector<Problem>& problems) {
    std::size_t n = 0;
    for (const auto& p : problems) n += p.severity == Severity::Fail ? 1 : 0;
    return n;
}

// The problems of putting node `issuer` above the last node of `path`.
using LinkJudge =
    std::function<std::vector<Problem>(std::span<const std::size_t> path, std::size_t issuer)>;

enum class WalkEnd : std::uint8_t {
    Anchor,      // the path ends at an anchor
    NoIssuer,    // the last certificate's issuer is not among the candidates
    Loop,        // every issuer of the last certificate is already on the path
    DepthLimit,  // the walk reached its link cap without an anchor
    GaveUp,      // the link budget ran out first
};

struct SearchLimits {
    int link_cap = 8;                // links beyond which no walk goes
    std::size_t link_budget = 4096;  // judged links over the whole search
};

struct ChainSearchResult {
    std::vector<std::size_t> path;  // node indices, the enrollee (0) first
    WalkEnd end = WalkEnd::NoIssuer;
    bool complete = false;          // ends at an anchor
    bool budget_exhausted = false;  // the search stopped early; the path is the best seen
    std::size_t links_judged = 0;
};

struct SignatureCheck {
    bool verified = false;
    std::string detail;  // OpenSSL's reason when not verified
};

class ChainGraph {
  public:
    // `nodes[0]` must be the enrollee. Only the nodes a walk up from it can
    // reach get their issuers, label and self flags; the others keep none
    // (issuers_of is empty for them), since no chain can hold them.
    explicit ChainGraph(std::vector<ChainNode> nodes);

    std::size_t size() const noexcept { return nodes_.size(); }
    const ChainNode& node(std::size_t i) const { return nodes_.at(i); }
    // Nodes whose names and key identifiers say they may have issued node i:
    // matched by the authority key identifier against subject key identifiers
    // where both exist, by issuer name = subject name for certificates; an
    // opaque key matches by key identifier alone.
    const std::vector<std::size_t>& issuers_of(std::size_t i) const { return issuers_.at(i); }
    // Whether node `issuer`'s key verifies node `child`'s signature; cached,
    // since the search may ask about one link many times.
    const SignatureCheck& verify(std::size_t child, std::size_t issuer);

    // Path building: depth-first from the enrollee, trying issuers with the
    // fewest problems first, stopping at anchors, never revisiting a node on
    // the current path, skipping issuers from which no anchor can be reached
    // within the link cap, and bounded by the link budget. Returns the first
    // path to an anchor without failures, else the path to an anchor with the
    // fewest, else the walk that explains why none exists.
    ChainSearchResult search(const LinkJudge& judge, const SearchLimits& limits);

  private:
    void compute_distances();
    ChainSearchResult explain_walk(const LinkJudge& judge, const SearchLimits& limits,
                                   std::size_t& budget);

    std::vector<ChainNode> nodes_;
    std::vector<std::vector<std::size_t>> issuers_;
    std::vector<int> distance_;  // links to the nearest anchor; -1: none reachable
    std::map<std::pair<std::size_t, std::size_t>, SignatureCheck> signatures_;
};

// Collects the nodes a chain for `enrollee` into `target` may use: the
// certificates and kernel keys of the keyrings the target's policy trusts
// and its pinned issuers (anchors), then every other certificate the snapshot
// holds and the supplied intermediates (links only). One node per
// certificate: a certificate found twice is an anchor if either place is.
std::vector<ChainNode> collect_nodes(const Certificate& enrollee, const KeyringPolicy& target,
                                     const TrustSnapshot& snapshot);

// "'CN=x' (sha256:0123abcd…)"
std::string certificate_label(const Certificate& certificate);

}  // namespace anchord::detail
