#!/usr/bin/perl
# Independent DKIM check with Mail::DKIM (Debian libmail-dkim-perl).
# Usage: verify.pl KEYS MESSAGE...   KEYS has lines "selector._domainkey.domain TXT-record".
# Prints one line per signature, "pass ..." or "fail ...", per message; exits 0 only if every
# signature of every message passed. No real DNS: a fake resolver answers from the KEYS file.
# Mail::DKIM 1.20230212 (Debian 12) has no ed25519-sha256: such a signature prints "unsupported"
# (RFC 6376 §6.1: a verifier ignores algorithms it does not know) and does not fail the run as
# long as another signature of the message passes.
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Mail::DKIM::DNS;
use Net::DNS;

my %keys;
open(my $kf, '<', shift @ARGV) or die "keys: $!";
while (my $line = <$kf>) {
    chomp $line;
    my ($name, $record) = split(/ /, $line, 2);
    $keys{lc $name} = $record if $name;
}
close $kf;

package FakeResolver;
sub new { return bless {}, shift }
sub errorstring { return 'NOERROR' }
sub send {
    my ($self, $name, $type) = @_;
    my $p = Net::DNS::Packet->new($name, $type);
    my $record = $keys{lc $name};
    if (defined $record) {
        my @chunks = unpack('(A255)*', $record);
        $p->push(answer => Net::DNS::RR->new(name => $name, type => 'TXT', txtdata => [@chunks]));
    } else {
        $p->header->rcode('NXDOMAIN');
    }
    return $p;
}

package main;
Mail::DKIM::DNS::resolver(FakeResolver->new);

my $ok = 1;
for my $path (@ARGV) {
    open(my $fh, '<:raw', $path) or die "$path: $!";
    my $dkim = Mail::DKIM::Verifier->new();
    local $/;
    my $data = <$fh>;
    close $fh;
    $dkim->PRINT($data);
    $dkim->CLOSE;
    my @sigs = $dkim->signatures;
    if (!@sigs) { print "fail $path no signature\n"; $ok = 0; }
    my $i = 0;
    my $passed = 0;
    for my $sig (@sigs) {
        my $r = $sig->result;
        my $detail = $sig->result_detail // '';
        my $word = $r eq 'pass' ? 'pass' : $detail =~ /unsupported algorithm/ ? 'unsupported' : 'fail';
        print "$word $path sig$i $detail\n";
        $ok = 0 if $word eq 'fail';
        $passed++ if $word eq 'pass';
        $i++;
    }
    $ok = 0 unless $passed;
}
exit($ok ? 0 : 1);
