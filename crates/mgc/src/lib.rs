//! Sans-IO MGCWebService for Parlance: the SOAP 1.1 service at
//! `/PersistentChat/MGCWebService.asmx` through which Lync / Skype for Business clients post
//! files into Persistent Chat rooms and download them, each call authorised by a token
//! obtained over XCCOS.
//!
//! Both sides are here. A server reads requests with [`parse_request`] under hard
//! [`Limits`] (refusing DTDs, entity declarations, processing instructions, oversized
//! bodies, strings and chunks) and answers with [`write_response`] or, for any refusal,
//! [`write_fault`] (sent with HTTP 500: the client stops a transfer at any 4xx), writes a
//! `DownloadChunk` answer as its bytes are read with [`StreamedChunk`] (piece by piece, or
//! whole into one buffer), and serves
//! [`wsdl`] at `?wsdl`. A client, test or benchmark writes requests with [`write_request`]
//! and reads answers with [`parse_response`], or a `DownloadChunk` answer as it arrives
//! with [`ChunkReader`]. Nothing here does I/O or knows HTTP.
//!
//! A server builds its limits with [`Limits::for_chunk`] from its chunk size (what it
//! announces through `GetMaxRequestContentInKB`) and refuses a `Content-Length` over
//! `max_body_bytes` before reading the body; every [`SoapError`] from [`parse_request`] is
//! answered with `write_fault(FaultCode::Client, &error.to_string())`.
//!
//! The operations' names, parameters and result types are one table (`operation.rs`);
//! `docs/protocol.md` ("MGCWebService.asmx") explains the shapes the reference left open.
//!
//! ```
//! use mgc::{Limits, Request, Response, OperationName, parse_request, parse_response, write_response};
//!
//! let body = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
//!   <GetFileSize xmlns="http://www.microsoft.com"><token>t</token><channelId>c</channelId>
//!   <reposFileName>6d042d7b-50d1-4117-9bf0-5a8c0b11e842.txt</reposFileName></GetFileSize>
//! </s:Body></s:Envelope>"#;
//! let request = parse_request(Some("\"http://www.microsoft.com/GetFileSize\""), body, &Limits::default()).unwrap();
//! assert!(matches!(request, Request::GetFileSize { ref repos_file_name, .. } if repos_file_name.ends_with(".txt")));
//!
//! let answer = write_response(&Response::FileSize(43));
//! assert_eq!(
//!     parse_response(OperationName::GetFileSize, &answer, &Limits::default()),
//!     Ok(Response::FileSize(43))
//! );
//! ```

mod binary;
mod chunk_reader;
mod error;
mod fault;
mod limits;
mod operation;
mod read;
mod request;
mod response;
mod streamed;
mod write;
mod wsdl;

pub use chunk_reader::ChunkReader;
pub use error::SoapError;
pub use fault::{FaultCode, write_fault};
pub use limits::Limits;
pub use operation::OperationName;
pub use request::{Request, parse_request, write_request};
pub use response::{Response, parse_response, write_response};
pub use streamed::{StreamedChunk, TooFew, TooMany};
pub use wsdl::wsdl;

/// The namespace of the operation elements, and the base of every `SOAPAction`.
pub const NAMESPACE: &str = "http://www.microsoft.com";

/// The SOAP 1.1 envelope namespace.
pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";

/// Where the service lives on the web server.
pub const PATH: &str = "/PersistentChat/MGCWebService.asmx";
