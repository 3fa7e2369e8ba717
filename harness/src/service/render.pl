#!/usr/bin/perl
# mistake-cost: renders a configure scenario's three configurations inside
# the container, before any approach touches the files (service/config.rs
# writes PLAN; the same rules as config::apply):
#   perl render.pl PLAN.json OUT
# good: each declared file's text, or what is on disk for a file only edits
# name (absent when it does not exist); wanted: good with the wanted edit;
# bad: wanted with the mistake's edits, in order. `replace` changes every
# occurrence of `find` and fails, naming the file, when it does not occur.
# Writes OUT/{good,wanted,bad}/<path> for each present file and
# OUT/<stage>.absent (one path per line) for the others. Only core modules.
use strict;
use warnings;
use JSON::PP;
use Encode ();
use File::Path qw(make_path);
use File::Basename qw(dirname);

my ($plan_file, $out) = @ARGV;
die "usage: render.pl PLAN.json OUT\n" unless defined $out;
open(my $pf, '<:raw', $plan_file) or die "render.pl: $plan_file: $!\n";
my $plan = JSON::PP->new->utf8->decode(do { local $/; <$pf> });
close $pf;

my %good;
for my $p (@{ $plan->{paths} }) {
    my ($declared) = grep { $_->{path} eq $p } @{ $plan->{files} };
    if ($declared) { $good{$p} = $declared->{text}; next }
    if (-e $p) {
        open(my $fh, '<:raw', $p) or die "render.pl: $p: $!\n";
        local $/;
        my $bytes = <$fh>;
        close $fh;
        # The plan's texts are characters; so is what the file holds.
        $good{$p} = Encode::decode('UTF-8', $bytes // '');
    } else {
        $good{$p} = undef;
    }
}

sub edited {
    my ($from, $edits) = @_;
    my %files = %$from;
    for my $e (@$edits) {
        my $p = $e->{path};
        if ($e->{delete}) { $files{$p} = undef }
        elsif (defined $e->{text}) { $files{$p} = $e->{text} }
        else {
            my ($find, $with) = @{ $e->{replace} }{qw(find with)};
            die "$p: the file does not exist, so nothing to replace\n" unless defined $files{$p};
            die "$p: `find` text \"$find\" does not occur in it\n" if index($files{$p}, $find) < 0;
            $files{$p} =~ s/\Q$find\E/$with/g;
        }
    }
    return \%files;
}

my $wanted = edited(\%good, $plan->{wanted});
my $bad = edited($wanted, $plan->{change});
for my $stage (['good', \%good], ['wanted', $wanted], ['bad', $bad]) {
    make_path("$out/$stage->[0]");
    my ($name, $files) = @$stage;
    my @absent;
    for my $p (@{ $plan->{paths} }) {
        unless (defined $files->{$p}) { push @absent, $p; next }
        my $to = "$out/$name$p";
        make_path(dirname($to));
        open(my $fh, '>:raw', $to) or die "render.pl: $to: $!\n";
        print $fh Encode::encode('UTF-8', $files->{$p});
        close $fh or die "render.pl: $to: $!\n";
    }
    open(my $fh, '>', "$out/$name.absent") or die "render.pl: $out/$name.absent: $!\n";
    print $fh map { "$_\n" } @absent;
    close $fh;
}
