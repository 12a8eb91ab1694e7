#!/usr/bin/perl
# Console filter used by qemu-run.sh: copies the kernel's output through unchanged and as
# it arrives (partial lines too, so prompts show at once), and appends
# " <function> at <file:line>" to every panic line `backtrace #<n> pc=0x<16 hex>`. The
# kernel runs wherever it was loaded: the report's `backtrace: image at 0x..., linked at
# 0x...` line gives the offset to take off each PC before looking it up in the ELF.
# Usage: symbolize-backtrace.pl LLVM_SYMBOLIZER KERNEL_ELF
use strict;
use warnings;

my ($symbolizer, $elf) = @ARGV;
die "usage: $0 LLVM_SYMBOLIZER KERNEL_ELF\n" unless defined $elf;
$| = 1;

# The ELF's executable segments (PT_LOAD with PF_X): addresses outside them are not the
# kernel's code, and the debug info of functions the linker dropped sits at address 0,
# so symbolizing them would name the wrong function.
sub code_ranges {
    my ($path) = @_;
    open(my $f, '<:raw', $path) or die "$0: cannot read $path: $!\n";
    local $/;
    my $elf = <$f>;
    close($f);
    die "$0: $path is not a 64-bit little-endian ELF\n" unless substr($elf, 0, 6) eq "\x7fELF\x02\x01";
    my ($phoff) = unpack('Q<', substr($elf, 0x20, 8));
    my ($phentsize, $phnum) = unpack('v v', substr($elf, 0x36, 4));
    my @ranges;
    for my $i (0 .. $phnum - 1) {
        my ($type, $flags, undef, $vaddr, undef, undef, $memsz) =
            unpack('V V Q< Q< Q< Q< Q<', substr($elf, $phoff + $i * $phentsize, 48));
        push @ranges, [$vaddr, $vaddr + $memsz] if $type == 1 && ($flags & 1);
    }
    return @ranges;
}
my @code = code_ranges($elf);

# "<function> at <file>:<line>" as llvm-symbolizer prints it, tidied: no column, no
# legacy-mangling hash, and no " at <cgu>:0" for assembly, which has no line.
sub tidy {
    my ($frame) = @_;
    $frame =~ s/^\s+//;
    $frame =~ s/:\d+$//;
    $frame =~ s/ at [^ ]*:0$//;
    $frame =~ s/::h[0-9a-f]{16}( at |$)/$1/;
    return $frame;
}

# Where the address is in the kernel's source: the innermost frame (the exact line, maybe
# in an inlined function) and, if that was inlined, the function it was inlined into.
my $load_offset = 0;    # run address - link address, from the report's image line
sub symbolize {
    my ($pc) = @_;
    my $addr = hex($pc) - $load_offset;
    $pc = sprintf('0x%x', $addr);
    return '' unless grep { $addr >= $_->[0] && $addr < $_->[1] } @code;
    open(my $out, '-|', $symbolizer, "--obj=$elf", '--pretty-print', '--relativenames', $pc)
        or return '';
    my @frames = grep { /\S/ } <$out>;
    close($out);
    chomp @frames;
    return '' if !@frames || $frames[0] =~ /^\?\?/;
    my $where = ' ' . tidy($frames[0]);
    if (@frames > 1 && $frames[-1] =~ /\(inlined by\) (.*)/) {
        my ($outer) = tidy($1) =~ /^(.*?)(?: at |$)/;
        $where .= " (inlined into $outer)";
    }
    return $where;
}

my $line = '';    # the current line as far as it has been printed
my $cr   = 0;     # a "\r" held back from the end of a chunk: the symbol goes before it
while (sysread(STDIN, my $chunk, 4096)) {
    if ($cr) {
        $chunk = "\r$chunk";
        $cr    = 0;
    }
    while ($chunk =~ s/^([^\n]*)\n//) {
        my $rest = $1;
        my $full = $line . $rest;
        $line = '';
        if ($full =~ /backtrace: image at (0x[0-9a-f]+), linked at (0x[0-9a-f]+)\r?$/) {
            $load_offset = hex($1) - hex($2);
        }
        if ($full =~ /backtrace #\d+ pc=(0x[0-9a-f]{16})\r?$/) {
            my $where = symbolize($1);
            $rest =~ s/(\r?)$/$where$1/;
        }
        print "$rest\n";
    }
    if ($chunk =~ s/\r$//) {
        $cr = 1;
    }
    print $chunk;
    $line .= $chunk;
}
print "\r" if $cr;
