# shellcheck shell=bash
# Certificate making for the lab, with the openssl command line only.
# Sourced by anchors.sh and corpus.sh, never run.
#
#   x509_key ALG OUT            ALG: rsa:BITS, ec:CURVE, ed25519, dsa:BITS,
#                               ec-explicit:CURVE (explicit curve parameters)
#   x509_issue NAME SUBJECT EXT ISSUER [option=value...]
#       writes $out/NAME.{key,der,pem}. ISSUER is the name of a certificate
#       made before in $out, or "self". EXT is a name from x509_extensions
#       or a literal "ext:" followed by extension lines separated by '\n'.
#       Options: key=ALG (default rsa:2048), md=DIGEST (default sha256),
#       start=YYYYMMDDHHMMSSZ, end=YYYYMMDDHHMMSSZ, pss=1 (RSA-PSS),
#       signkey=FILE (sign with this key instead of the issuer's, which
#       must then be "self"), reuse_key=NAME (the key of a certificate made
#       before).

x509_key() {
    local alg=$1 out=$2
    case $alg in
    rsa:*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${alg#rsa:}" -out "$out" 2>/dev/null ;;
    ec:*) openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${alg#ec:}" \
        -pkeyopt ec_param_enc:named_curve -out "$out" 2>/dev/null ;;
    ec-explicit:*) openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${alg#ec-explicit:}" \
        -pkeyopt ec_param_enc:explicit -out "$out" 2>/dev/null ;;
    ed25519) openssl genpkey -algorithm ED25519 -out "$out" ;;
    dsa:*)
        openssl genpkey -genparam -algorithm DSA -pkeyopt "dsa_paramgen_bits:${alg#dsa:}" \
            -out "$out.params" 2>/dev/null
        openssl genpkey -paramfile "$out.params" -out "$out"
        rm -f "$out.params"
        ;;
    *)
        echo "x509_key: unknown key algorithm \"$alg\"" >&2
        return 2
        ;;
    esac
}

# Named extension sets. Every CA names its key (SKID), every certificate its
# issuer's (AKID), as a distribution's signing PKI does.
x509_extensions() {
    case $1 in
    root) printf '%s\n' 'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign,cRLSign' \
        'subjectKeyIdentifier=hash' ;;
    ca) printf '%s\n' 'basicConstraints=critical,CA:TRUE' 'keyUsage=critical,keyCertSign,cRLSign' \
        'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always' ;;
    signing) printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
        'extendedKeyUsage=codeSigning' 'subjectKeyIdentifier=hash' 'authorityKeyIdentifier=keyid:always' ;;
    ext:*) printf '%b\n' "${1#ext:}" ;;
    none) ;;
    *)
        echo "x509_extensions: unknown set \"$1\"" >&2
        return 2
        ;;
    esac
}

x509_issue() {
    local name=$1 subject=$2 ext=$3 issuer=$4
    shift 4
    local key=rsa:2048 md=sha256 start='' end='' pss='' signkey='' reuse_key='' opt
    for opt in "$@"; do
        case $opt in
        key=*) key=${opt#key=} ;;
        md=*) md=${opt#md=} ;;
        start=*) start=${opt#start=} ;;
        end=*) end=${opt#end=} ;;
        pss=1) pss=1 ;;
        signkey=*) signkey=${opt#signkey=} ;;
        reuse_key=*) reuse_key=${opt#reuse_key=} ;;
        *)
            echo "x509_issue: unknown option \"$opt\"" >&2
            return 2
            ;;
        esac
    done
    local work=$out/.ca
    mkdir -p "$work/new"
    [[ -f $work/index.txt ]] || : >"$work/index.txt"
    # Serials from a counter, so that no two lab certificates share one.
    [[ -f $work/serial ]] || printf '%s\n' "$(openssl rand -hex 8 | sed 's/^./4/')" >"$work/serial"
    if [[ -n $reuse_key ]]; then
        cp "$out/$reuse_key.key" "$out/$name.key"
    else
        x509_key "$key" "$out/$name.key"
    fi
    {
        printf '[ca]\ndefault_ca=lab\n[lab]\ndatabase=%s\nnew_certs_dir=%s\nserial=%s\n' \
            "$work/index.txt" "$work/new" "$work/serial"
        printf 'policy=any\nunique_subject=no\nemail_in_dn=no\ncopy_extensions=none\n'
        printf '[any]\ncommonName=optional\norganizationName=optional\n'
        printf '[req]\ndistinguished_name=dn\n[dn]\n'
        printf '[v3]\n'
        x509_extensions "$ext"
    } >"$work/$name.cnf"
    openssl req -new -key "$out/$name.key" -subj "$subject" -config "$work/$name.cnf" \
        -out "$work/$name.csr" 2>/dev/null
    local args=(-batch -config "$work/$name.cnf" -in "$work/$name.csr" -out "$work/$name.crt"
        -md "$md" -notext -preserveDN -subj "$subject")
    # No extension section makes a v1 certificate, as old PKIs have.
    [[ -z $(x509_extensions "$ext") ]] || args+=(-extensions v3)
    if [[ $issuer == self ]]; then
        args+=(-selfsign -keyfile "${signkey:-$out/$name.key}")
    else
        args+=(-cert "$out/$issuer.pem" -keyfile "$out/$issuer.key")
    fi
    [[ -z $start ]] || args+=(-startdate "$start")
    if [[ -n $end ]]; then args+=(-enddate "$end"); else args+=(-days 3650); fi
    [[ -z $pss ]] || args+=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32)
    if ! openssl ca "${args[@]}" 2>"$work/$name.err"; then
        echo "x509_issue: openssl ca failed for $name:" >&2
        cat "$work/$name.err" >&2
        return 1
    fi
    openssl x509 -in "$work/$name.crt" -outform DER -out "$out/$name.der"
    openssl x509 -in "$work/$name.crt" -out "$out/$name.pem"
}

# The SHA-256 of a DER certificate's TBSCertificate, in lowercase hex.
x509_tbs_sha256() {
    # The TBSCertificate is the first element inside the outer SEQUENCE:
    # skip the outer header (2 bytes, +N for a long length), then take the
    # inner element whole.
    local der=$1 hex first_len header inner_len_byte inner_header inner_len
    hex=$(od -An -tx1 -v "$der" | tr -d ' \n')
    first_len=$((16#${hex:2:2}))
    header=2
    ((first_len < 128)) || header=$((2 + (first_len & 127)))
    inner_len_byte=$((16#${hex:header*2+2:2}))
    if ((inner_len_byte < 128)); then
        inner_header=2
        inner_len=$inner_len_byte
    else
        local n=$((inner_len_byte & 127))
        inner_header=$((2 + n))
        inner_len=$((16#${hex:header*2+4:n*2}))
    fi
    tail -c +$((header + 1)) "$der" | head -c $((inner_header + inner_len)) | sha256sum | cut -d' ' -f1
}
