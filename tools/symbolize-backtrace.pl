#!/usr/bin/perl
# Console filter used by qemu-run.sh: copies the kernel's output through unchanged and as
# it arrives (partial lines too, so prompts show at once), and appends
# " <function> at <file:line>" to every panic line `backtrace #<n> pc=0x<16 hex>`.
# Usage: symbolize-backtrace.pl LLVM_SYMBOLIZER KERNEL_ELF
use strict;
use warnings;

my ($symbolizer, $elf) = @ARGV;
die "usage: $0 LLVM_SYMBOLIZER KERNEL_ELF\n" unless defined $elf;
$| = 1;

# Where the address is in the kernel's source: the innermost (possibly inlined) frame.
sub symbolize {
    my ($pc) = @_;
    open(my $out, '-|', $symbolizer, "--obj=$elf", '--pretty-print', '--relativenames', $pc)
        or return '';
    my $first = <$out>;
    close($out);
    return '' unless defined $first;
    chomp $first;
    $first =~ s/:\d+$//;    # drop the column: "<function> at <file>:<line>"
    return $first =~ /^\?\?/ ? '' : " $first";
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
