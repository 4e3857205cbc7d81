//! One check per file. Each file opens with the spec it enforces and declares
//! a `CHECK` with its id, tier, versioned variants, wording and documentation.

pub mod allow_privilege_escalation;
pub mod app_armor_profile;
pub mod automount_service_account_token;
pub mod capabilities_baseline;
pub mod capabilities_restricted;
pub mod host_namespaces;
pub mod host_path_volumes;
pub mod host_ports;
pub mod host_probes_and_host_lifecycle;
pub mod privileged;
pub mod proc_mount;
pub mod proc_mount_restricted;
pub mod read_only_root_filesystem;
pub mod resource_limits;
pub mod restricted_volumes;
pub mod run_as_non_root;
pub mod run_as_user;
pub mod se_linux_options;
pub mod seccomp_profile_baseline;
pub mod seccomp_profile_restricted;
pub mod sysctls;
pub mod windows_host_process;
