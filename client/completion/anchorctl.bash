# bash completion for anchorctl(1). Static: it completes commands, options,
# keyring names and files, and asks anchord nothing.

# COMPREPLY from compgen's words that start with the current one.
_anchorctl_reply() {
    mapfile -t COMPREPLY < <(compgen "$@" -- "$cur")
}

_anchorctl() {
    local cur prev words cword
    _init_completion 2>/dev/null || {
        COMPREPLY=()
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD-1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    }

    local commands="status list show verify enroll remove seal reconcile policy"
    local keyrings="builtin secondary machine platform ima evm"
    local global="--json --bus-address --session --help --version"

    case $prev in
        --bus-address)
            _anchorctl_reply -W "unix:path="
            compopt -o nospace 2>/dev/null
            return
            ;;
        -k | --keyring)
            _anchorctl_reply -W "$keyrings"
            return
            ;;
    esac

    # The command is the first word that names one (an address may have
    # been split into several words at ':' and '=').
    local command="" i
    for ((i = 1; i < cword; i++)); do
        if [[ " $commands " == *" ${words[i]} "* ]]; then
            command=${words[i]}
            break
        fi
    done

    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            _anchorctl_reply -W "$global"
        else
            _anchorctl_reply -W "$commands"
        fi
        return
    fi

    local options="--json --help"
    case $command in
        verify) options+=" --keyring" ;;
        enroll) options+=" --keyring --partial" ;;
        remove) options+=" --keyring" ;;
    esac
    if [[ $cur == -* ]]; then
        _anchorctl_reply -W "$options"
        return
    fi

    case $command in
        list | seal)
            _anchorctl_reply -W "$keyrings"
            ;;
        verify | enroll)
            # Certificates: DER or PEM files, and '-' for standard input.
            if declare -F _filedir >/dev/null; then
                _filedir '@(der|pem|crt|cer)'
            else
                _anchorctl_reply -f
            fi
            ;;
    esac
}

complete -F _anchorctl anchorctl
