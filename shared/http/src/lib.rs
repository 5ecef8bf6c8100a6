//! The HTTP edge: the operator API and the signed webhook as one axum router, served
//! by the Lambda functions (through lambda_http) and by the local runtime alike.

pub mod signature;
