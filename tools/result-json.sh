# shellcheck shell=bash
# Reading the kernel's flat RESULT and PIPELINE JSON from bash, for the scripts in
# tools/ that run on hosts with nothing but bash, sed and awk (no jq). Sourced, not run.

# The RESULT objects of a console log, one per line, without the prefix.
results() { grep -a "^RESULT " "$1" | sed 's/^RESULT //' | tr -d '\r'; }

# The flat object under KEY in JSON: object JSON KEY.
object() { grep -o "\"$2\":{[^}]*}" <<<"$1" | head -1 | sed "s/^\"$2\"://"; }

# A number of a flat JSON object, or n/a for null (no figure) or a missing key:
# value JSON KEY.
value() {
    local v
    v=$(sed -n "s/.*[{,]\"$2\":\\([-0-9.e+]*\\|null\\)[,}].*/\\1/p" <<<"$1")
    [[ -n $v && $v != null ]] && echo "$v" || echo n/a
}
