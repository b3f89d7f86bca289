# Shared by regen.sh and check.sh: the listing of one golden case.
# golden_listing BT86 HEX prints `bt86 explain` of HEX placed so that it ends
# at guest address 0x101000 (a page boundary, which ends the block).
golden_listing() {
  bt86=$1
  hex=$(printf '%s' "$2" | tr -d ' \t')
  count=$((${#hex} / 2))
  address=$(printf '0x%x' $((0x101000 - count)))
  "$bt86" explain --bytes "$hex" "$address"
}
