#!/usr/bin/perl
# mistake-cost's in-container agent, baked into every approach image.
# It exists so that timings and hashes are taken inside the container
# (monotonic clock, no Docker round trip in the measurement) and so that a
# snapshot costs one exec instead of one per file. Only core Perl modules.
#
#   agent.pl run TIMEOUT_S [--kill-after=MS:SIG] CMD...
#                                   run each CMD with /bin/sh -c, in order,
#                                   going on after failures; print one line
#                                   per command: exit<TAB>ns<TAB>hex(stdout tail)<TAB>hex(stderr tail)<TAB>fired<TAB>hex(attempts)<TAB>start
#                                   (start: CLOCK_MONOTONIC ns when the command
#                                   started, the clock the probe log uses)
#                                   With --kill-after, SIG goes to each command's
#                                   whole process tree MS milliseconds after it
#                                   started (fired: ns offset of the kill, or "-").
#                                   attempts: every line of the WHOLE output that
#                                   holds "mistake-cost-attempt|#|" (a failing
#                                   package script's record of one side effect),
#                                   from that marker on; "!overflow" past 1 MiB.
#   agent.pl stat                   read NUL-separated paths on stdin, print
#                                   one NUL-terminated record per path
#   agent.pl scan ROOT              the same record for every path under ROOT
#   agent.pl probe SPEC MS          start the health prober in the background:
#                                   every MS ms (or when the last sample is
#                                   done) every probe of the SPEC file (HTTP
#                                   GET, TCP connect, command; see read_probes),
#                                   healthy when all pass; one line per sample
#                                   appended to /run/mistake-cost/probe.log:
#                                   start-ns<TAB>1|0<TAB>end-ns<TAB>reason
#   agent.pl probe SPEC MS HOST LOG the same from outside: every probe goes to
#                                   HOST (a fleet node; a command probe finds
#                                   it in $MC_NODE) and the samples to LOG
#                                   (its pid in LOG.pid)
#   agent.pl fleet-watch DIR SINCE_NS SETTLE_MS WATCH_MS
#                                   a fleet's rollback policy over the probe
#                                   logs in DIR (one per node): exit 1 and print
#                                   the node as soon as one has been unhealthy
#                                   SETTLE_MS in a row in samples started at or
#                                   after SINCE_NS; exit 0 when WATCH_MS pass
#                                   without that
#   agent.pl fleet-settle DIR SINCE_NS WATCH_MS
#                                   wait (at most WATCH_MS) until every node's
#                                   last sample started at or after SINCE_NS and
#                                   was healthy: exit 0, else 1 and the nodes
#   agent.pl check SPEC SETTLE_MS MS
#                                   a node's own health check: exit 0 once
#                                   SETTLE_MS of samples in a row passed, 1 and
#                                   the reason once SETTLE_MS of them failed
#   agent.pl settle MS              wait MS ms, then for a sample that started
#                                   after the call; exit 0 if it was healthy
#                                   (1 if not, 2 if no prober runs or no fresh
#                                   sample within 5 s); prints its reason
#   agent.pl serve                  a session: one docker exec carries every
#                                   later request of a trial (an exec costs
#                                   ~60 ms of runc here; a request ~1 ms).
#                                   Request: `x<TAB>STDIN_LEN|-<TAB>hex(arg)...`
#                                   then STDIN_LEN raw bytes; the argv runs as
#                                   `docker exec` would run it (this agent's
#                                   own modes in a forked child, without a new
#                                   perl). Answer: `R<TAB>exit<TAB>out_len<TAB>
#                                   err_len` then the whole stdout and stderr.
#                                   It greets with `agent serve 1`.
#                                   The server is no subreaper: what a request
#                                   leaves running is re-parented to init, as
#                                   after a plain exec.
#
# A record: TYPE<TAB>MODE<TAB>UID:GID<TAB>SIZE<TAB>HASH<TAB>PATH
#   TYPE: f file, d dir, l symlink, o other, - absent;
#   HASH: sha256 of the content (files) or of the target (symlinks), else "-".
use strict;
use warnings;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);
use Digest::SHA;
use POSIX qw(WIFEXITED WEXITSTATUS WIFSIGNALED WTERMSIG WNOHANG);

my $TAIL = 4096;
my $SCRATCH = "/run/mistake-cost";

sub tail_hex {
    my ($file) = @_;
    open(my $fh, '<:raw', $file) or return "";
    my $size = -s $fh;
    seek($fh, $size > $TAIL ? $size - $TAIL : 0, 0);
    local $/;
    my $data = <$fh> // "";
    close $fh;
    return unpack("H*", $data);
}

# The agent is a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so a
# process that leaves the command's group and outlives its parent (dpkg,
# which apt runs in a new session on a pseudo-terminal) is re-parented to
# the agent and can still be found and killed: a kill reaches the tree, not
# only the group.
my %PRCTL_NR = (x86_64 => 157, aarch64 => 167);
sub become_subreaper {
    my $nr = $PRCTL_NR{(POSIX::uname())[4]} or return;
    syscall($nr, 36, 1, 0, 0, 0);
}

# Every process below $root, from /proc's parent links.
sub descendants {
    my ($root) = @_;
    my %kids;
    opendir(my $d, "/proc") or return ();
    for my $p (grep { /^\d+$/ } readdir $d) {
        open(my $fh, '<', "/proc/$p/stat") or next;
        my $stat = <$fh>;
        close $fh;
        push @{ $kids{$1} }, $p if defined $stat && $stat =~ /\)\s+\S+\s+(\d+)/;
    }
    closedir $d;
    my @out;
    my @todo = ($root);
    while (defined(my $x = shift @todo)) {
        for my $c (@{ $kids{$x} || [] }) { push @out, $c; push @todo, $c }
    }
    return @out;
}

# SIG to the command's group and to every descendant of the agent: the
# command, its group, and whatever left the group.
sub signal_tree {
    my ($sig, $pid) = @_;
    kill($sig, -$pid);
    my @d = descendants($$);
    kill($sig, @d) if @d;
}

# After the command ended: kill and reap whatever of its tree is left.
sub end_tree {
    for (1 .. 400) {
        my @d = descendants($$);
        last unless @d;
        kill('KILL', @d);
        1 while waitpid(-1, WNOHANG) > 0;
        Time::HiRes::sleep(0.005);
    }
}

# Attempt records are measurements, so they come from the whole output,
# never from the tail.
my $ATTEMPT_CAP = 1 << 20;
sub attempts_hex {
    my @lines;
    my $bytes = 0;
    for my $file (@_) {
        open(my $fh, '<:raw', $file) or next;
        while (my $line = <$fh>) {
            my $at = index($line, "mistake-cost-attempt|#|");
            next if $at < 0;
            my $rec = substr($line, $at);
            $rec =~ s/[\r\n]+\z//;
            $bytes += length($rec) + 1;
            if ($bytes > $ATTEMPT_CAP) { close $fh; return unpack("H*", "!overflow") }
            push @lines, $rec;
        }
        close $fh;
    }
    return unpack("H*", join("\n", @lines));
}

sub cmd_run {
    my ($timeout, @cmds) = @_;
    become_subreaper();
    my ($kill_ms, $kill_sig);
    if (@cmds && $cmds[0] =~ /^--kill-after=(\d+):(KILL|TERM)$/) {
        ($kill_ms, $kill_sig) = ($1, $2);
        shift @cmds;
    }
    mkdir $SCRATCH;
    $| = 1;
    for my $i (0 .. $#cmds) {
        my ($out, $err) = ("$SCRATCH/out.$$.$i", "$SCRATCH/err.$$.$i");
        my $t0 = clock_gettime(CLOCK_MONOTONIC);
        my $pid = fork();
        die "fork: $!" unless defined $pid;
        if ($pid == 0) {
            setpgrp(0, 0);
            open(STDIN, '<', '/dev/null');
            open(STDOUT, '>', $out) or die;
            open(STDERR, '>', $err) or die;
            exec('/bin/sh', '-c', $cmds[$i]) or exit 127;
        }
        # Both sides set the group, so a kill right after fork cannot miss it.
        setpgrp($pid, $pid);
        my ($status, $fired) = (undef, "-");
        if (defined $kill_ms) {
            # Poll rather than sleep the whole offset: the command may end first.
            my $at = $t0 + $kill_ms / 1000;
            while (1) {
                if (waitpid($pid, WNOHANG) == $pid) { $status = $?; last }
                my $now = clock_gettime(CLOCK_MONOTONIC);
                if ($now >= $at) {
                    signal_tree($kill_sig, $pid);
                    $fired = int(($now - $t0) * 1e9);
                    last;
                }
                Time::HiRes::sleep(0.0005);
            }
        }
        if (!defined $status) {
            eval {
                local $SIG{ALRM} = sub { die "timeout\n" };
                alarm($timeout) if $timeout > 0;
                waitpid($pid, 0);
                $status = $?;
                alarm(0);
            };
        }
        if (!defined $status) {
            signal_tree('KILL', $pid);
            waitpid($pid, 0);
            $status = -1;
        }
        # The tree may outlive its leader (dpkg in its own session, a
        # daemonised child): end it too, so nothing changes the file
        # system after the command "ended".
        end_tree() if $fired ne "-" || $status == -1;
        my $ns = int((clock_gettime(CLOCK_MONOTONIC) - $t0) * 1e9);
        # 128+N for a signal, as shells report it; -1 for our own timeout.
        my $code = $status == -1 ? -1 : WIFEXITED($status) ? WEXITSTATUS($status) : 128 + WTERMSIG($status);
        print join("\t", $code, $ns, tail_hex($out), tail_hex($err), $fired, attempts_hex($out, $err), int($t0 * 1e9)), "\n";
        unlink $out, $err;
    }
}

sub record {
    my ($path) = @_;
    my @st = lstat($path);
    return "-\t-\t-\t0\t-\t$path\0" unless @st;
    my ($mode, $uid, $gid, $size) = @st[2, 4, 5, 7];
    my $perm = sprintf("%o", $mode & 07777);
    my ($type, $hash) = ("o", "-");
    if (-l _) {
        $type = "l";
        $hash = Digest::SHA::sha256_hex(readlink($path) // "");
    } elsif (-d _) {
        $type = "d";
        $size = 0;
    } elsif (-f _) {
        $type = "f";
        my $sha = Digest::SHA->new(256);
        $hash = eval { $sha->addfile($path, "b"); $sha->hexdigest } // "unreadable";
    }
    return "$type\t$perm\t$uid:$gid\t$size\t$hash\t$path\0";
}

sub cmd_stat {
    local $/ = "\0";
    $| = 0;
    while (my $p = <STDIN>) {
        chomp $p;
        next if $p eq "";
        print record($p);
    }
}

sub cmd_scan {
    my ($root) = @_;
    my %skip = map { $_ => 1 } qw(/proc /sys /dev /run/mistake-cost);
    my @stack = ($root);
    while (defined(my $p = pop @stack)) {
        next if $skip{$p};
        print record($p);
        next if -l $p || !-d _;
        opendir(my $dh, $p) or next;
        my @kids = grep { $_ ne '.' && $_ ne '..' } readdir($dh);
        closedir $dh;
        push @stack, map { $p eq '/' ? "/$_" : "$p/$_" } sort @kids;
    }
}

# One HTTP probe: (1, "ok") or (0, why). Bounded in time (connect and
# read together within 500 ms) and in bytes read (64 KiB), so a hung or
# chatty service cannot stall the prober's clock.
# The host every probe goes to: the container itself, or a fleet's node.
my $PROBE_HOST = '127.0.0.1';

sub probe_http {
    my ($port, $path, $want_status, $body) = @_;
    require IO::Socket::INET;
    require IO::Select;
    my $deadline = clock_gettime(CLOCK_MONOTONIC) + 0.5;
    my $sock = IO::Socket::INET->new(PeerAddr => $PROBE_HOST, PeerPort => $port,
                                     Proto => 'tcp', Timeout => 0.5)
        or return (0, "connect: $!");
    print $sock "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
    my ($resp, $sel) = ("", IO::Select->new($sock));
    while (length($resp) < 65536) {
        my $left = $deadline - clock_gettime(CLOCK_MONOTONIC);
        return (0, "timeout") if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($sock, my $buf, 8192);
        return (0, "read: $!") unless defined $n;
        last if $n == 0;
        $resp .= $buf;
    }
    close $sock;
    my ($status) = $resp =~ m{\AHTTP/\d\.\d (\d{3})};
    return (0, "no HTTP status") unless defined $status;
    return (0, "status $status") unless $status eq $want_status;
    return (0, "body lacks the expected text") if length($body) && index($resp, $body) < 0;
    return (1, "ok");
}

# A TCP connect within 500 ms.
sub probe_tcp {
    my ($port) = @_;
    require IO::Socket::INET;
    my $sock = IO::Socket::INET->new(PeerAddr => $PROBE_HOST, PeerPort => $port,
                                     Proto => 'tcp', Timeout => 0.5)
        or return (0, "connect: $!");
    close $sock;
    return (1, "ok");
}

# A command (sh -c) within 2 s, its process group killed after; passes on
# exit 0 and, when $want is not empty, a trimmed stdout holding it.
sub probe_command {
    my ($cmd, $want) = @_;
    pipe(my $r, my $w) or return (0, "pipe: $!");
    my $pid = fork() // return (0, "fork: $!");
    if ($pid == 0) {
        setpgrp(0, 0);
        close $r;
        open(STDIN, '<', '/dev/null'); open(STDOUT, '>&', $w); open(STDERR, '>', '/dev/null');
        exec('/bin/sh', '-c', $cmd) or exit 127;
    }
    setpgrp($pid, $pid);
    close $w;
    require IO::Select;
    my ($out, $sel) = ("", IO::Select->new($r));
    my $deadline = clock_gettime(CLOCK_MONOTONIC) + 2;
    my $timed_out = 0;
    while (1) {
        my $left = $deadline - clock_gettime(CLOCK_MONOTONIC);
        if ($left <= 0 || !$sel->can_read($left)) { $timed_out = 1; last }
        my $n = sysread($r, my $buf, 8192);
        last unless $n;
        $out .= $buf if length($out) < 65536;
    }
    close $r;
    kill('KILL', -$pid) if $timed_out;
    waitpid($pid, 0);
    my $status = $?;
    return (0, "timeout") if $timed_out;
    my $code = WIFEXITED($status) ? WEXITSTATUS($status) : 128 + WTERMSIG($status);
    return (0, "exit $code") if $code != 0;
    $out =~ s/\A\s+|\s+\z//g;
    return (0, "output lacks the expected text") if length($want) && index($out, $want) < 0;
    return (1, "ok");
}

# One health sample over every probe of the spec: healthy when all pass;
# the reason names the first that failed (1-based).
sub probe_all {
    my ($probes) = @_;
    for my $i (0 .. $#$probes) {
        my ($kind, @args) = @{ $probes->[$i] };
        my ($ok, $why) = $kind eq 'http' ? probe_http(@args)
                       : $kind eq 'tcp' ? probe_tcp(@args)
                       : probe_command(@args);
        return (0, "probe " . ($i + 1) . " ($kind): $why") unless $ok;
    }
    return (1, "ok");
}

# The probe spec: one probe per line, tab-separated:
#   http PORT PATH STATUS hex(BODY) | tcp PORT | command hex(CMD) hex(STDOUT)
sub read_probes {
    my ($file) = @_;
    open(my $fh, '<', $file) or die "probe: $file: $!\n";
    my @probes;
    while (my $line = <$fh>) {
        chomp $line;
        next unless length $line;
        my ($kind, @f) = split /\t/, $line, -1;
        if ($kind eq 'http') { push @probes, ['http', $f[0], $f[1], $f[2], pack("H*", $f[3] // '')] }
        elsif ($kind eq 'tcp') { push @probes, ['tcp', $f[0]] }
        elsif ($kind eq 'command') { push @probes, ['command', pack("H*", $f[0]), pack("H*", $f[1] // '')] }
        else { die "probe: $file: unknown probe kind `$kind`\n" }
    }
    die "probe: $file: no probe\n" unless @probes;
    return \@probes;
}

sub cmd_probe {
    my ($spec, $ms, $host, $log) = @_;
    die "usage: agent.pl probe SPEC MS [HOST LOG]\n" unless defined $ms && $ms > 0;
    my $probes = read_probes($spec);
    mkdir $SCRATCH;
    my $pidfile = "$SCRATCH/probe.pid";
    if (defined $host) {
        die "usage: agent.pl probe SPEC MS HOST LOG\n" unless defined $log;
        # Resolved once: a name lookup per sample would time the resolver.
        require Socket;
        my $addr;
        for (1 .. 100) { $addr = Socket::inet_aton($host) and last; Time::HiRes::sleep(0.05) }
        die "probe: cannot resolve $host\n" unless $addr;
        $PROBE_HOST = Socket::inet_ntoa($addr);
        # A command probe reaches the node by its name (an SSH login).
        $ENV{MC_NODE} = $host;
        $pidfile = "$log.pid";
    } else {
        $log = "$SCRATCH/probe.log";
    }
    # Detached twice, so the prober outlives the exec that started it and
    # no step's process tree (which a kill fault ends) holds it.
    my $pid = fork() // die "fork: $!";
    if ($pid) { waitpid($pid, 0); return }
    POSIX::setsid();
    exit 0 if fork();
    open(STDIN, '<', '/dev/null'); open(STDOUT, '>', '/dev/null'); open(STDERR, '>', '/dev/null');
    if (open(my $pf, '>', $pidfile)) { print $pf "$$\n"; close $pf }
    open(my $fh, '>>', $log) or exit 1;
    $fh->autoflush(1);
    while (1) {
        my $t = clock_gettime(CLOCK_MONOTONIC);
        my ($ok, $why) = probe_all($probes);
        my $end = clock_gettime(CLOCK_MONOTONIC);
        $why =~ s/[\t\n]/ /g;
        print $fh int($t * 1e9), "\t$ok\t", int($end * 1e9), "\t$why\n";
        my $left = $t + $ms / 1000 - clock_gettime(CLOCK_MONOTONIC);
        Time::HiRes::sleep($left) if $left > 0;
    }
}

# The complete samples appended to a probe log since the last call:
# [start_ns, ok, end_ns] each. $st holds the file and how far it was read,
# so a watch that polls every 10 ms reads each line once.
sub new_samples {
    my ($st) = @_;
    open(my $fh, '<', $st->{file}) or return ();
    seek($fh, $st->{pos}, 0);
    my @out;
    while (my $l = <$fh>) {
        last unless $l =~ /\n\z/;
        $st->{pos} += length $l;
        my ($at, $ok, $end) = split /\t/, $l, 4;
        push @out, [$at, $ok, $end];
    }
    return @out;
}

# One read state per node log in DIR, in name order.
sub fleet_logs {
    my ($dir) = @_;
    opendir(my $dh, $dir) or die "fleet: $dir: $!\n";
    my @logs = sort grep { /\.log\z/ } readdir $dh;
    closedir $dh;
    die "fleet: no probe log in $dir\n" unless @logs;
    return map { my $n = $_; $n =~ s/\.log\z//; { file => "$dir/$_", node => $n, pos => 0 } } @logs;
}

sub cmd_fleet_watch {
    my ($dir, $since, $settle_ms, $watch_ms) = @_;
    die "usage: agent.pl fleet-watch DIR SINCE_NS SETTLE_MS WATCH_MS\n" unless defined $watch_ms;
    my @logs = fleet_logs($dir);
    my $deadline = clock_gettime(CLOCK_MONOTONIC) + $watch_ms / 1000;
    while (1) {
        for my $log (@logs) {
            # The unhealthy streak that runs to this node's last sample.
            for my $s (new_samples($log)) {
                next if $s->[0] < $since;
                if ($s->[1]) { undef $log->{streak} } else { $log->{streak} //= $s->[0] }
                if (defined $log->{streak} && $s->[2] - $log->{streak} >= $settle_ms * 1e6) {
                    print "$log->{node}\n";
                    exit 1;
                }
            }
        }
        exit 0 if clock_gettime(CLOCK_MONOTONIC) >= $deadline;
        Time::HiRes::sleep(0.01);
    }
}

sub cmd_fleet_settle {
    my ($dir, $since, $watch_ms) = @_;
    die "usage: agent.pl fleet-settle DIR SINCE_NS WATCH_MS\n" unless defined $watch_ms;
    my @logs = fleet_logs($dir);
    my $deadline = clock_gettime(CLOCK_MONOTONIC) + $watch_ms / 1000;
    while (1) {
        my @down;
        for my $log (@logs) {
            my @new = new_samples($log);
            $log->{last} = $new[-1] if @new;
            my $last = $log->{last};
            next if $last && $last->[0] >= $since && $last->[1];
            push @down, $log->{node};
        }
        exit 0 unless @down;
        if (clock_gettime(CLOCK_MONOTONIC) >= $deadline) { print "$_\n" for @down; exit 1 }
        Time::HiRes::sleep(0.01);
    }
}

# A node's own health check (deploy-rs's activation script, its only
# hook), under the fleet policy's settle window both ways: the probes of
# SPEC every MS ms against this container; exit 0 once the samples of
# SETTLE_MS in a row passed, 1 (and the reason) once those of SETTLE_MS
# in a row failed. One healthy sample is not enough: right after a
# reload the old workers still answer.
sub cmd_check {
    my ($spec, $settle_ms, $ms) = @_;
    die "usage: agent.pl check SPEC SETTLE_MS MS\n" unless defined $ms && $ms > 0;
    my $probes = read_probes($spec);
    # A command probe written for the prober reaches this node itself.
    $ENV{MC_NODE} //= '127.0.0.1';
    my ($ok_since, $fail_since);
    while (1) {
        my $t = clock_gettime(CLOCK_MONOTONIC);
        my ($ok, $why) = probe_all($probes);
        my $end = clock_gettime(CLOCK_MONOTONIC);
        if ($ok) {
            undef $fail_since;
            $ok_since //= $t;
            exit 0 if ($end - $ok_since) * 1000 >= $settle_ms;
        } else {
            undef $ok_since;
            $fail_since //= $t;
            if (($end - $fail_since) * 1000 >= $settle_ms) { print "$why\n"; exit 1 }
        }
        my $left = $t + $ms / 1000 - clock_gettime(CLOCK_MONOTONIC);
        Time::HiRes::sleep($left) if $left > 0;
    }
}

# The last complete line of the probe log, split (undef when none).
sub last_sample {
    open(my $fh, '<', "$SCRATCH/probe.log") or return;
    my $last;
    while (my $l = <$fh>) { $last = $l if $l =~ /\n\z/ }
    return unless defined $last;
    chomp $last;
    return split /\t/, $last, 4;
}

sub cmd_settle {
    my ($ms) = @_;
    my $t0 = clock_gettime(CLOCK_MONOTONIC);
    Time::HiRes::sleep(($ms // 0) / 1000);
    # A stale log (the prober died with a restarted container) says nothing.
    my $pid;
    if (open(my $pf, '<', "$SCRATCH/probe.pid")) { $pid = <$pf>; close $pf }
    chomp $pid if defined $pid;
    unless (defined $pid && $pid =~ /^\d+$/ && kill(0, $pid)) { print "no prober\n"; exit 2 }
    # Only a sample that started after this call began says how the service
    # is now: a slow probe (a login) may need a moment more (at most 5 s).
    my ($at, $ok, undef, $why);
    while (1) {
        ($at, $ok, undef, $why) = last_sample();
        last if defined $at && $at >= int($t0 * 1e9);
        if (clock_gettime(CLOCK_MONOTONIC) - $t0 > ($ms // 0) / 1000 + 5) { print "no fresh sample\n"; exit 2 }
        Time::HiRes::sleep(0.005);
    }
    print "$why\n" unless $ok;
    exit($ok ? 0 : 1);
}

# Reads exactly $n bytes of $fh (undef at a short read: the harness left).
sub read_exact {
    my ($fh, $n) = @_;
    my $buf = "";
    while (length($buf) < $n) {
        my $got = read($fh, $buf, $n - length($buf), length($buf));
        return undef unless $got;
    }
    return $buf;
}

# Runs one request's argv with its stdin; returns (exit, stdout, stderr),
# all output kept whole. The agent's own modes run in a forked child
# (no second perl start); anything else is exec'd. Exit codes as
# `docker exec` reports them: 126/127 when the program cannot start,
# 128+N when a signal N ended it.
sub spawn {
    my ($argv, $stdin) = @_;
    pipe(my $out_r, my $out_w) or return (126, "", "pipe: $!");
    pipe(my $err_r, my $err_w) or return (126, "", "pipe: $!");
    my ($in_r, $in_w);
    if (defined $stdin) { pipe($in_r, $in_w) or return (126, "", "pipe: $!") }
    my $pid = fork();
    return (126, "", "fork: $!") unless defined $pid;
    if ($pid == 0) {
        if (defined $stdin) { close $in_w; open(STDIN, '<&', $in_r) } else { open(STDIN, '<', '/dev/null') }
        close $out_r; close $err_r;
        open(STDOUT, '>&', $out_w); open(STDERR, '>&', $err_w);
        close $out_w; close $err_w;
        $SIG{PIPE} = 'DEFAULT';
        if (@$argv >= 2 && $argv->[0] eq 'perl' && $argv->[1] eq $0) {
            my (undef, undef, @args) = @$argv;
            eval { dispatch(@args) };
            if ($@) { print STDERR $@; POSIX::_exit(255) }
            STDOUT->flush; STDERR->flush;
            POSIX::_exit(0);
        }
        { no warnings 'exec'; exec { $argv->[0] } @$argv }
        print STDERR "exec $argv->[0]: $!\n";
        POSIX::_exit($!{ENOENT} ? 127 : 126);
    }
    close $out_w; close $err_w;
    my %buf = (out => "", err => "");
    my $sel = IO::Select->new($out_r, $err_r);
    my $wsel = IO::Select->new();
    my $offset = 0;
    if (defined $stdin) {
        close $in_r;
        if (length $stdin) { $in_w->blocking(0); $wsel->add($in_w) } else { close $in_w }
    }
    my ($status, $quiet_since);
    while ($sel->count || $wsel->count) {
        my ($r, $w) = IO::Select->select($sel, $wsel, undef, 0.05);
        for my $fh (@{ $w || [] }) {
            my $n = syswrite($fh, $stdin, 65536, $offset);
            if (!defined $n) { next if $!{EAGAIN}; $wsel->remove($fh); close $fh; next }
            $offset += $n;
            if ($offset >= length $stdin) { $wsel->remove($fh); close $fh }
        }
        for my $fh (@{ $r || [] }) {
            my $key = $fh == $out_r ? 'out' : 'err';
            my $n = sysread($fh, $buf{$key}, 65536, length $buf{$key});
            if (!$n) { $sel->remove($fh); close $fh }
        }
        # A daemon the command started may hold the pipes open for ever:
        # once the command itself ended, 200 ms of silence ends the read.
        if (!defined $status && waitpid($pid, WNOHANG) == $pid) { $status = $? }
        if (defined $status && !@{ $r || [] }) {
            $quiet_since //= clock_gettime(CLOCK_MONOTONIC);
            last if clock_gettime(CLOCK_MONOTONIC) - $quiet_since > 0.2;
        } else {
            undef $quiet_since;
        }
    }
    for my $fh ($sel->handles, $wsel->handles) { $sel->remove($fh); $wsel->remove($fh); close $fh }
    $status = (waitpid($pid, 0), $?)[1] unless defined $status;
    my $code = WIFEXITED($status) ? WEXITSTATUS($status) : 128 + WTERMSIG($status);
    return ($code, $buf{out}, $buf{err});
}

sub cmd_serve {
    require IO::Select;
    require IO::Handle;
    binmode STDIN; binmode STDOUT;
    $SIG{PIPE} = 'IGNORE';
    # The greeting tells the harness that this agent serves (an older one
    # would print its usage and exit, and the harness then execs alone).
    print "agent serve 1\n";
    STDOUT->flush;
    STDOUT->autoflush(0);
    while (defined(my $line = <STDIN>)) {
        chomp $line;
        my ($verb, $len, @args) = split /\t/, $line, -1;
        if ($verb ne 'x' || !defined $len || ($len ne '-' && $len !~ /^\d+$/)) {
            print STDERR "agent serve: malformed request\n";
            exit 2;
        }
        my $stdin;
        if ($len ne '-') { $stdin = read_exact(\*STDIN, $len) // exit 0 }
        my @argv = map { pack("H*", $_) } @args;
        my ($code, $out, $err) = @argv ? spawn(\@argv, $stdin) : (126, "", "empty argv\n");
        print join("\t", "R", $code, length($out), length($err)), "\n", $out, $err;
        STDOUT->flush or exit 0;
    }
}

sub dispatch {
    my $mode = shift // '';
    if ($mode eq 'run') { cmd_run(@_) }
    elsif ($mode eq 'stat') { cmd_stat() }
    elsif ($mode eq 'scan') { cmd_scan($_[0] // '/') }
    elsif ($mode eq 'probe') { cmd_probe(@_) }
    elsif ($mode eq 'settle') { cmd_settle(@_) }
    elsif ($mode eq 'fleet-watch') { cmd_fleet_watch(@_) }
    elsif ($mode eq 'fleet-settle') { cmd_fleet_settle(@_) }
    elsif ($mode eq 'check') { cmd_check(@_) }
    elsif ($mode eq 'serve') { cmd_serve() }
    else { die "usage: agent.pl run TIMEOUT CMD... | stat | scan ROOT | probe SPEC MS | settle MS | serve\n" }
}

dispatch(@ARGV);
