// SCRAM-SHA-256 verifiers computed by PostgreSQL 15 itself, shared by unit and integration tests.

/** `CREATE ROLE … PASSWORD '<password>'` on PostgreSQL 15.18, then pg_authid.rolpassword. */
export const POSTGRES_VECTORS = [
  {
    password: "pencil",
    verifier: "SCRAM-SHA-256$4096:XfpaY450o5/v/jTlS/sZLg==$1lPZ+VpDa3JG94f1qdUHa/pbCJWgKi28JVkHHzpVZag=:5vUipk60cxF35koYoqSjBlbQt83AAVoj+/v0Tn57RK8=",
  },
  {
    password: "Gh7kPq2xZr9mWn4vTb8sYc3dEf6jHa5L",
    verifier: "SCRAM-SHA-256$4096:O6TpDbBKppFPpCzbmoqbhA==$J2PxNmT6v4fQjiSw/YnQOmqvw/bAZBpxDDEQhqaqB2g=:3esoyD3osWmitJ2vjoXBgtRCo06QvkFWlevfcRoQmiU=",
  },
];
