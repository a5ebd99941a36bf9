// Chain building for the verdict engine: which certificates and kernel keys
// may have issued which, and a bounded search for the best path from the
// enrollee to an anchor.
#include "chain.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <unordered_map>

#include "anchord/openssl.hpp"

namespace anchord::detail {
namespace {

bool same_bytes(const std::optional<Bytes>& a, const std::optional<Bytes>& b) {
    return a && b && *a == *b;
}

bool names_equal(const X509_NAME* a, const X509_NAME* b) {
    return a != nullptr && b != nullptr && X509_NAME_cmp(a, b) == 0;
}

// Whether `candidate` may have issued `child`, from names and key
// identifiers only (no signature check).
bool may_issue(const ChainNode& child, const ChainNode& candidate) {
    if (child.certificate == nullptr) return false;  // an opaque key has no issuer to find
    const auto& akid = child.certificate->info().authority_key_id;
    if (candidate.opaque != nullptr) {
        // The kernel finds a key by the identifiers alone; so do we.
        return same_bytes(akid, candidate.opaque->subject_key_id);
    }
    const auto& skid = candidate.certificate->info().subject_key_id;
    if (akid && skid && *akid != *skid) return false;
    // Unequal name hashes rule a candidate out without its OpenSSL object,
    // which a recorded leaf only decodes on demand (Certificate::x509).
    const auto& issuer_hash = child.certificate->info().issuer_name_hash;
    const auto& subject_hash = candidate.certificate->info().subject_name_hash;
    if (issuer_hash && subject_hash && *issuer_hash != *subject_hash) return false;
    // RFC 5280 6.1.3 (a)(4): names chain. The key identifiers, where both
    // exist, only narrow the choice among certificates with the right name.
    return names_equal(X509_get_issuer_name(child.certificate->x509()),
                       X509_get_subject_name(candidate.certificate->x509()));
}

void fill_self(ChainNode& node) {
    // Measured once when the certificate was read, not at every verdict.
    const auto& info = node.certificate->info();
    node.self_issued = info.self_issued;
    node.self_signed = info.self_signed;
}

std::string opaque_label(const OpaqueKey& key) {
    return "kernel key " + std::to_string(key.serial.value) + " '" + key.description + "'";
}

}  // namespace

std::string certificate_label(const Certificate& certificate) {
    const auto& info = certificate.info();
    std::string subject = info.subject.empty() ? "(empty subject)" : info.subject;
    return "'" + subject + "' (sha256:" + info.fingerprint.digest.hex().substr(0, 16) + "…)";
}

// Whether a certificate can sit in a chain above the enrollee. may_issue
// rules out a candidate whose subject name hash differs from the child's
// issuer name hash, so only certificates whose subject hash is one of
// those reached from the enrollee's issuer, in turn, can be reached at all;
// ChainGraph never looks at the others, and leaving them out changes no
// verdict. Every verdict went through every certificate anchord knows (a
// thousand enrolled leaves among them), a node each, three times over.
class AboveTheEnrollee {
  public:
    AboveTheEnrollee(const Certificate& enrollee, const TrustSnapshot& snapshot) {
        if (!want(enrollee.info().issuer_name_hash)) return;
        // Each pass reaches one more level of issuers; a chain is a few deep.
        for (bool grew = true; grew && !everything_;) {
            grew = false;
            auto visit = [&](const Certificate& c) {
                if (everything_ || !can_be_above(c)) return;
                const auto& issuer = c.info().issuer_name_hash;
                if (issuer && std::find(wanted_.begin(), wanted_.end(), *issuer) != wanted_.end())
                    return;
                grew = true;
                want(issuer);
            };
            for (const auto& [k, certs] : snapshot.certificates)
                for (const auto& c : certs) visit(c);
            for (const auto& c : snapshot.intermediates) visit(c);
        }
    }

    bool can_be_above(const Certificate& c) const {
        const auto& subject = c.info().subject_name_hash;
        return everything_ || !subject ||
               std::find(wanted_.begin(), wanted_.end(), *subject) != wanted_.end();
    }

  private:
    // False when the hash is missing: names must then be compared, and
    // every certificate may be above.
    bool want(const std::optional<std::uint32_t>& hash) {
        if (!hash) {
            everything_ = true;
            return false;
        }
        wanted_.push_back(*hash);
        return true;
    }

    std::vector<std::uint32_t> wanted_;  // subject name hashes; a handful
    bool everything_ = false;
};

std::vector<ChainNode> collect_nodes(const Certificate& enrollee, const KeyringPolicy& target,
                                     const TrustSnapshot& snapshot) {
    const AboveTheEnrollee above(enrollee, snapshot);
    std::vector<ChainNode> nodes;
    // A certificate held by several keyrings is one node.
    std::unordered_map<Fingerprint, std::size_t> by_fingerprint;

    auto add_certificate = [&](const Certificate& c, std::optional<LogicalKeyring> keyring,
                               bool anchor, bool pinned) {
        if (!nodes.empty() && !above.can_be_above(c)) return;
        auto [it, inserted] = by_fingerprint.emplace(c.info().fingerprint, nodes.size());
        if (!inserted) {
            ChainNode& existing = nodes[it->second];
            if (anchor && !existing.anchor) existing.keyring = keyring;
            if (!existing.keyring) existing.keyring = keyring;
            existing.anchor = existing.anchor || anchor;
            existing.pinned = existing.pinned || pinned;
            return;
        }
        ChainNode node;
        node.certificate = &c;
        node.keyring = keyring;
        node.anchor = anchor;
        node.pinned = pinned;
        nodes.push_back(std::move(node));
    };

    add_certificate(enrollee, std::nullopt, false, false);

    const std::set<LogicalKeyring> trusted(target.trusted_by.begin(), target.trusted_by.end());
    const std::set<Fingerprint> pinned(target.pinned_issuers.begin(), target.pinned_issuers.end());

    // Anchors first, in the policy's order of trusted keyrings, so that a
    // certificate held by several keyrings is named after a trusted one.
    for (LogicalKeyring k : target.trusted_by) {
        if (auto it = snapshot.certificates.find(k); it != snapshot.certificates.end()) {
            for (const auto& c : it->second) {
                add_certificate(c, k, true, pinned.contains(c.info().fingerprint));
            }
        }
        if (auto it = snapshot.opaque_keys.find(k); it != snapshot.opaque_keys.end()) {
            for (const auto& key : it->second) {
                ChainNode node;
                node.opaque = &key;
                node.keyring = k;
                node.anchor = true;
                nodes.push_back(std::move(node));
            }
        }
    }
    for (const auto& [k, certs] : snapshot.certificates) {
        if (trusted.contains(k)) continue;
        for (const auto& c : certs) {
            const bool is_pinned = pinned.contains(c.info().fingerprint);
            add_certificate(c, k, is_pinned, is_pinned);
        }
    }
    for (const auto& c : snapshot.intermediates) {
        const bool is_pinned = pinned.contains(c.info().fingerprint);
        add_certificate(c, std::nullopt, is_pinned, is_pinned);
    }
    return nodes;
}

ChainGraph::ChainGraph(std::vector<ChainNode> nodes) : nodes_(std::move(nodes)) {
    // Only the part of the graph above the enrollee is built: no walk from
    // it reaches anything else, and a node's distance to an anchor is the
    // same within that part as in the whole graph, since every issuer of a
    // node in it is in it too. Building every node's issuers cost M² name
    // comparisons per verdict for the M certificates anchord knows: a
    // million with 1,000 leaves enrolled, a fifth of a batch's CPU.
    issuers_.resize(nodes_.size());
    std::vector<bool> reached(nodes_.size(), false);
    std::vector<std::size_t> todo;
    if (!nodes_.empty()) {
        reached[0] = true;
        todo.push_back(0);
    }
    while (!todo.empty()) {
        std::size_t child = todo.back();
        todo.pop_back();
        for (std::size_t candidate = 1; candidate < nodes_.size(); ++candidate) {
            if (candidate == child || !may_issue(nodes_[child], nodes_[candidate])) continue;
            issuers_[child].push_back(candidate);
            if (!reached[candidate]) {
                reached[candidate] = true;
                todo.push_back(candidate);
            }
        }
    }
    // Labels and self-signature checks, for the nodes a chain can hold.
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
        if (!reached[i]) continue;
        ChainNode& node = nodes_[i];
        if (node.certificate != nullptr) {
            node.label = certificate_label(*node.certificate);
            fill_self(node);
        } else if (node.opaque != nullptr) {
            node.label = opaque_label(*node.opaque);
        }
    }
    compute_distances();
}

void ChainGraph::compute_distances() {
    // Breadth-first from the anchors along "was issued" edges: the number of
    // links from each node to its nearest anchor, ignoring every rule but
    // names and key identifiers. The search uses it to leave alone the parts
    // of the graph from which no anchor can be reached (the 100-certificate
    // unconnected chains of x509-limbo's dos cases).
    std::vector<std::vector<std::size_t>> issued(nodes_.size());
    for (std::size_t child = 0; child < nodes_.size(); ++child) {
        for (std::size_t issuer : issuers_[child]) issued[issuer].push_back(child);
    }
    distance_.assign(nodes_.size(), -1);
    std::deque<std::size_t> queue;
    for (std::size_t i = 1; i < nodes_.size(); ++i) {
        if (nodes_[i].anchor) {
            distance_[i] = 0;
            queue.push_back(i);
        }
    }
    while (!queue.empty()) {
        std::size_t n = queue.front();
        queue.pop_front();
        for (std::size_t child : issued[n]) {
            if (distance_[child] < 0) {
                distance_[child] = distance_[n] + 1;
                queue.push_back(child);
            }
        }
    }
}

const SignatureCheck& ChainGraph::verify(std::size_t child, std::size_t issuer) {
    auto key = std::make_pair(child, issuer);
    if (auto it = signatures_.find(key); it != signatures_.end()) return it->second;
    SignatureCheck result;
    const ChainNode& c = nodes_.at(child);
    const ChainNode& i = nodes_.at(issuer);
    if (c.certificate == nullptr || i.certificate == nullptr) {
        result.detail = "no certificate to check the signature with";
    } else {
        ERR_clear_error();
        EVP_PKEY* pkey = i.certificate->public_key();
        if (pkey == nullptr) {
            result.detail = "the issuer's public key cannot be decoded";
        } else {
            result.verified = c.certificate->signature_verified_by(pkey);
            if (!result.verified) {
                result.detail = ossl::drain_errors();
                if (result.detail.empty()) result.detail = "the signature does not match";
            }
        }
        ERR_clear_error();
    }
    return signatures_.emplace(key, std::move(result)).first->second;
}

namespace {

struct Candidate {
    std::size_t node = 0;
    std::vector<Problem> problems;
    std::size_t failures = 0;
};

}  // namespace

ChainSearchResult ChainGraph::search(const LinkJudge& judge, const SearchLimits& limits) {
    ChainSearchResult best;
    std::size_t best_failures = std::numeric_limits<std::size_t>::max();
    bool found = false;
    bool done = false;
    std::size_t budget = limits.link_budget;
    std::size_t judged = 0;
    bool exhausted = false;

    // A self-signed enrollee that a trusted keyring already holds vouches
    // for itself, as the kernel's own lookup would find it.
    if (nodes_[0].anchor && nodes_[0].self_signed) {
        best.path = {0};
        best.end = WalkEnd::Anchor;
        best.complete = true;
        return best;
    }

    std::vector<std::size_t> path{0};
    std::vector<bool> on_path(nodes_.size(), false);
    on_path[0] = true;

    std::function<void(std::size_t)> walk = [&](std::size_t failures_so_far) {
        const std::size_t links = path.size() - 1;
        std::vector<Candidate> candidates;
        for (std::size_t issuer : issuers_[path.back()]) {
            if (on_path[issuer] || distance_[issuer] < 0) continue;
            if (static_cast<int>(links) + 1 + distance_[issuer] > limits.link_cap) continue;
            if (budget == 0) {
                exhausted = true;
                return;
            }
            --budget;
            ++judged;
            Candidate c{issuer, judge(path, issuer), 0};
            c.failures = count_failures(c.problems);
            candidates.push_back(std::move(c));
        }
        std::stable_sort(candidates.begin(), candidates.end(),
                         [&](const Candidate& a, const Candidate& b) {
                             if (a.failures != b.failures) return a.failures < b.failures;
                             return nodes_[a.node].anchor && !nodes_[b.node].anchor;
                         });
        for (const auto& c : candidates) {
            const std::size_t failures = failures_so_far + c.failures;
            if (found && failures >= best_failures) continue;
            path.push_back(c.node);
            on_path[c.node] = true;
            if (nodes_[c.node].anchor) {
                found = true;
                best_failures = failures;
                best.path = path;
                best.end = WalkEnd::Anchor;
                best.complete = true;
                if (failures == 0) done = true;
            } else {
                walk(failures);
            }
            on_path[c.node] = false;
            path.pop_back();
            if (done || exhausted) return;
        }
    };
    walk(0);

    if (!found) {
        best = explain_walk(judge, limits, budget);
        judged += best.links_judged;
    }
    best.budget_exhausted = exhausted;
    best.links_judged = judged;
    return best;
}

ChainSearchResult ChainGraph::explain_walk(const LinkJudge& judge, const SearchLimits& limits,
                                           std::size_t& budget) {
    // No path reaches an anchor: walk greedily from the enrollee to show
    // where and why the chain breaks (no issuer, a loop, or too long).
    ChainSearchResult result;
    result.path = {0};
    std::vector<bool> on_path(nodes_.size(), false);
    on_path[0] = true;
    for (;;) {
        const auto& issuers = issuers_[result.path.back()];
        if (issuers.empty()) {
            result.end = WalkEnd::NoIssuer;
            break;
        }
        if (static_cast<int>(result.path.size()) - 1 >= limits.link_cap) {
            result.end = WalkEnd::DepthLimit;
            break;
        }
        std::optional<Candidate> pick;
        bool out_of_budget = false;
        for (std::size_t issuer : issuers) {
            if (on_path[issuer]) continue;
            if (budget == 0) {
                out_of_budget = true;
                break;
            }
            --budget;
            ++result.links_judged;
            Candidate c{issuer, judge(result.path, issuer), 0};
            c.failures = count_failures(c.problems);
            if (!pick || c.failures < pick->failures) pick = std::move(c);
            if (pick->failures == 0) break;
        }
        if (!pick) {
            result.end = out_of_budget ? WalkEnd::GaveUp : WalkEnd::Loop;
            break;
        }
        result.path.push_back(pick->node);
        on_path[pick->node] = true;
        if (nodes_[pick->node].anchor) {
            result.end = WalkEnd::Anchor;
            result.complete = true;
            break;
        }
    }
    return result;
}

}  // namespace anchord::detail
