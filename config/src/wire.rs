//! The file schema: serde structs exactly as written in TOML. Unknown keys are errors.
//! Each field's doc line states its default. Values that need validation are kept
//! `Spanned`, so a semantic error can point at their line and column.

use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

/// A whole config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWire {
    /// Node-local settings (never replicated). Default: all defaults below.
    #[serde(default)]
    pub node: NodeWire,
    /// Cluster membership. Default: absent = single node.
    pub cluster: Option<ClusterWire>,
    /// DNS settings. Default: all defaults below.
    #[serde(default)]
    pub dns: DnsWire,
    /// Local DNS records (`[[record]]`). Default: none.
    #[serde(default, rename = "record")]
    pub records: Vec<RecordWire>,
    /// Client groups (`[[group]]`). Default: none (everyone is in `default`).
    #[serde(default, rename = "group")]
    pub groups: Vec<crate::policy::GroupWire>,
    /// Block and allow lists (`[[list]]`). Default: none.
    #[serde(default, rename = "list")]
    pub lists: Vec<crate::policy::ListWire>,
    /// Forward zones (`[[forward]]`, conditional forwarding). Default: none.
    #[serde(default, rename = "forward")]
    pub forwards: Vec<crate::forward::ForwardWire>,
    /// DHCP subnets (`[[subnet]]`). Default: none (no DHCP service).
    #[serde(default, rename = "subnet")]
    pub subnets: Vec<crate::subnet::SubnetWire>,
    /// The web UI (`[ui]`). Default: absent = no password, nobody can log in.
    #[serde(default)]
    pub ui: UiWire,
}

/// `[ui]`: site config, so both nodes share one password.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiWire {
    /// The argon2id PHC string of the UI password (`dnsctl password set` writes it).
    /// Default: none (the UI refuses every login).
    pub password_hash: Option<S<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeWire {
    /// Node name, unique in the cluster. Default: the host name.
    pub name: Option<S<String>>,
    /// Directory for the admin token, lease journal and list copies. Default: `/var/lib/ravens`.
    pub data_dir: Option<String>,
    /// DNS listen addresses (UDP and TCP). Default: `["0.0.0.0:53"]`.
    pub dns_listen: Option<Vec<S<String>>>,
    /// Admin HTTP API address. Default: `127.0.0.1:8053`.
    pub admin_listen: Option<S<String>>,
    /// DHCP listen address (relayed and direct). Default: `0.0.0.0:67`.
    pub dhcp_listen: Option<S<String>>,
    /// UDP port replies to relays (giaddr) go to. Default: `67`.
    pub dhcp_relay_port: Option<u16>,
    /// Interfaces served directly (VLAN sub-interfaces included). Default: `[]` (relayed only).
    pub dhcp_interfaces: Option<Vec<String>>,
    /// Directories `[[list]]` files may be read from (subdirectories included, symlinks and
    /// `..` resolved): a list `path` elsewhere is refused, so the admin API cannot be used to
    /// read other files of the node. Default: the config file's directory and
    /// `data_dir/lists`.
    pub list_dirs: Option<Vec<S<String>>>,
    /// System user to switch to once the sockets are bound, when started as root (keeping
    /// only CAP_NET_BIND_SERVICE). Default: none (run as started; systemd sets `User=` itself).
    pub user: Option<S<String>>,
    /// DNS-over-TLS listen addresses (RFC 7858; port 853 by convention). Default: `[]`.
    pub dot_listen: Option<Vec<S<String>>>,
    /// DNS-over-HTTPS listen addresses (RFC 8484; HTTP/2 and HTTP/1.1). Default: `[]`.
    pub doh_listen: Option<Vec<S<String>>>,
    /// Path DoH queries are served on. Default: `/dns-query`.
    pub doh_path: Option<S<String>>,
    /// PEM certificate chain for DoT and DoH (reloaded when the file changes). Required
    /// with `dot_listen` or `doh_listen`.
    pub tls_cert_file: Option<S<String>>,
    /// PEM private key of `tls_cert_file`. Required with `dot_listen` or `doh_listen`.
    pub tls_key_file: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterWire {
    /// Cluster (site) name. Required.
    pub name: S<String>,
    /// Gossip address of this node. Required.
    pub gossip_listen: S<String>,
    /// Gossip addresses of the other nodes. Default: `[]`.
    #[serde(default)]
    pub peers: Vec<S<String>>,
    /// File holding the cluster's pre-shared secret. Required.
    pub secret_file: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsWire {
    /// Upstream resolvers: `udp://IP[:53]`, `tcp://IP[:53]`, `tls://IP[:853]#NAME`,
    /// `https://HOST[:443]/PATH[#IP]`. Default: the nameservers of /etc/resolv.conf.
    pub upstreams: Option<Vec<S<String>>>,
    /// `parallel_best` (two fastest healthy, first answer wins) or `strict` (in order).
    /// Default: `parallel_best`.
    pub upstream_strategy: Option<S<String>>,
    /// Time after which a client gets SERVFAIL if no upstream answered. Default: `2s`.
    pub upstream_timeout: Option<S<String>>,
    /// Extra PEM CA bundle trusted for DoT/DoH besides the built-in roots. Default: none.
    pub upstream_ca_file: Option<String>,
    /// Domain of local names (DHCP hostnames, records); never forwarded. Default: `lan`.
    pub local_domain: Option<S<String>>,
    /// Client networks answered (127.0.0.1 and ::1 always are); others get REFUSED.
    /// Default: 127.0.0.0/8, ::1 and the DHCP subnets.
    pub serve_networks: Option<Vec<S<String>>>,
    /// Blocked-name answer: `null`, `nxdomain`, `refused` or an IP. Default: `null`.
    pub block_response: Option<S<String>>,
    /// TTL of blocked answers. Default: `60s`.
    pub block_ttl: Option<S<String>>,
    /// Cache bound in bytes of stored answers. Default: `32MiB`.
    pub cache_size: Option<S<String>>,
    /// Lowest TTL an answer is cached for. Default: `0s`.
    pub min_ttl: Option<S<String>>,
    /// Highest TTL an answer is cached for. Default: `1d`.
    pub max_ttl: Option<S<String>>,
    /// Highest TTL of a negative (NXDOMAIN/NODATA) answer. Default: `1h`.
    pub max_negative_ttl: Option<S<String>>,
    /// Serve expired answers when every upstream fails (RFC 8767). Default: `true`.
    pub serve_stale: Option<bool>,
    /// How long past expiry an answer may still be served stale. Default: `1d`.
    pub stale_max_age: Option<S<String>>,
    /// Refresh popular entries shortly before they expire. Default: `true`.
    pub prefetch: Option<bool>,
    /// UDP sockets per listen address (SO_REUSEPORT). Default: `0` = one per core.
    pub udp_sockets: Option<usize>,
    /// Concurrent TCP connections at most. Default: `256`.
    pub tcp_max_connections: Option<usize>,
    /// Concurrent TCP connections from one client address at most. Default: a quarter of
    /// `tcp_max_connections` (at least 1).
    pub tcp_max_connections_per_client: Option<usize>,
    /// A TCP connection that sends no query, or does not read a reply, for this long is
    /// closed. Default: `10s`.
    pub tcp_idle_timeout: Option<S<String>>,
    /// EDNS UDP payload size advertised and used at most. Default: `1232`.
    pub edns_udp_size: Option<u16>,
    /// Queries kept in the in-memory query log (`dnsctl log`). Default: `10000`; `0` = off.
    pub query_log_size: Option<usize>,
    /// Mask client addresses (IPv4 /24, IPv6 /48) in the query log, its file and the
    /// statistics (`dnsctl log`, `dnsctl stats`). Default: `false`.
    pub query_log_anonymize: Option<bool>,
    /// Also append every logged query as a JSON line to this file, rotated when it reaches
    /// `query_log_file_size` (kept as FILE.1 .. FILE.3). Default: none.
    pub query_log_file: Option<String>,
    /// Size at which the query log file is rotated. Default: `10MiB`.
    pub query_log_file_size: Option<S<String>>,
    /// Block a small built-in set of ad/tracker domains for the `default` group.
    /// Default: `false` (the embedded default config turns it on).
    pub builtin_blocklist: Option<bool>,
    /// Forwarded queries in flight at most; more get SERVFAIL. Default: `4096`.
    pub max_inflight: Option<usize>,
    /// Class CH queries (`version.bind`, `hostname.bind`, `id.server`, `version.server`),
    /// answered here and never forwarded: `refuse` answers every one REFUSED (as unbound
    /// with `hide-identity` and `hide-version`, and so no upstream's identity leaks);
    /// `identity` answers `hostname.bind` and `id.server` with `node.name` (which node of a
    /// pair answered) and still refuses the version. Default: `refuse`.
    pub chaos: Option<S<String>>,
    /// Queries per second per client (IPv4 address, IPv6 /56), e.g. `"50/s"`, or `"off"`.
    /// Default: `"100/s"` with a bucket of `rate_limit_burst`: a busy household's heaviest
    /// moment (several pages of a hundred names each, A + AAAA + HTTPS) is a few hundred
    /// queries in a second, under the bucket, and its average is far below the rate (five
    /// times AdGuard Home's 20/s, six times Pi-hole's 1000 per 60 s, which users behind a
    /// forwarding router do hit), while a looping device or a flood at thousands per second
    /// is held to 100/s within a second or two.
    pub rate_limit: Option<S<String>>,
    /// Queries a client may send at once beyond the rate (the bucket). Default: ten seconds
    /// of `rate_limit` (1000 by default).
    pub rate_limit_burst: Option<S<u32>>,
    /// A query over the limit is `drop`ped (nothing sent: no reflection towards a spoofed
    /// source) or answered `refused` (a real client fails fast). Default: `drop`.
    pub rate_limit_action: Option<S<String>>,
    /// Client networks never limited. Default: `["127.0.0.0/8", "::1/128"]` (this host's own
    /// services); a list replaces it.
    pub rate_limit_exempt: Option<Vec<S<String>>>,
    /// DNSSEC: `off` (answers pass as the upstream gave them) or `validate` (upstreams are
    /// asked with DO and CD, answers validated against the trust anchor: secure ones get AD,
    /// bogus ones SERVFAIL with an Extended DNS Error). Default: `off` (see README).
    pub dnssec: Option<S<String>>,
    /// File of DS or DNSKEY records in zone-file form replacing the built-in root trust
    /// anchor (KSK-2017 and KSK-2024). Default: none.
    pub dnssec_trust_anchor_file: Option<String>,
    /// Negative trust anchors: names whose subtrees are never validated (besides
    /// `local_domain`, the private reverse zones and the `[[forward]]` zones). Default: `[]`.
    pub dnssec_nta: Option<Vec<S<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordWire {
    /// Owner name (absolute; a trailing dot is optional). Required.
    pub name: S<String>,
    /// A, AAAA, CNAME, PTR, TXT, MX or SRV. Required.
    #[serde(rename = "type")]
    pub rtype: S<String>,
    /// RDATA in presentation form: `10.0.1.10`, `mail.lan`, `10 mail.lan` (MX),
    /// `0 5 5060 sip.lan` (SRV), any text (TXT). Required.
    pub value: S<String>,
    /// TTL. Default: `300s`.
    pub ttl: Option<S<String>>,
}
