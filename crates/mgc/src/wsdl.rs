//! The service description served at `MGCWebService.asmx?wsdl`: WSDL 1.1, document/literal,
//! a SOAP 1.1 binding, written from the same table as the codec so the two cannot disagree.
//! Its names follow what ASP.NET generates for an `.asmx` service (`<Op>SoapIn`,
//! `<Op>SoapOut`, port type and binding `MGCWebServiceSoap`), so generated clients look as
//! they would against the original.

use std::fmt::Write as _;

use quick_xml::escape::escape;

use crate::NAMESPACE;
use crate::operation::{Field, OperationName};

const SERVICE: &str = "MGCWebService";
const PORT: &str = "MGCWebServiceSoap";

/// The WSDL of a service reachable at `service_url` (absolute, e.g.
/// `https://chat.example.com:8443/PersistentChat/MGCWebService.asmx`).
pub fn wsdl(service_url: &str) -> String {
    let mut out = String::with_capacity(16 * 1024);
    // `fmt::Write` into a `String` cannot fail.
    let _ = write_wsdl(&mut out, service_url);
    out
}

fn write_wsdl(out: &mut String, service_url: &str) -> std::fmt::Result {
    writeln!(out, r#"<?xml version="1.0" encoding="utf-8"?>"#)?;
    writeln!(
        out,
        r#"<wsdl:definitions xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:s="http://www.w3.org/2001/XMLSchema" xmlns:tns="{NAMESPACE}" targetNamespace="{NAMESPACE}">"#
    )?;
    writeln!(out, "  <wsdl:types>")?;
    writeln!(
        out,
        r#"    <s:schema elementFormDefault="qualified" targetNamespace="{NAMESPACE}">"#
    )?;
    for op in OperationName::ALL {
        write_element(out, op.as_str(), op.parameters())?;
        write_element(out, op.response(), std::slice::from_ref(op.result()))?;
    }
    writeln!(out, "    </s:schema>")?;
    writeln!(out, "  </wsdl:types>")?;
    for op in OperationName::ALL {
        for (suffix, element) in [("SoapIn", op.as_str()), ("SoapOut", op.response())] {
            writeln!(out, r#"  <wsdl:message name="{op}{suffix}">"#)?;
            writeln!(
                out,
                r#"    <wsdl:part name="parameters" element="tns:{element}"/>"#
            )?;
            writeln!(out, "  </wsdl:message>")?;
        }
    }
    writeln!(out, r#"  <wsdl:portType name="{PORT}">"#)?;
    for op in OperationName::ALL {
        writeln!(out, r#"    <wsdl:operation name="{op}">"#)?;
        writeln!(out, r#"      <wsdl:input message="tns:{op}SoapIn"/>"#)?;
        writeln!(out, r#"      <wsdl:output message="tns:{op}SoapOut"/>"#)?;
        writeln!(out, "    </wsdl:operation>")?;
    }
    writeln!(out, "  </wsdl:portType>")?;
    writeln!(out, r#"  <wsdl:binding name="{PORT}" type="tns:{PORT}">"#)?;
    writeln!(
        out,
        r#"    <soap:binding transport="http://schemas.xmlsoap.org/soap/http"/>"#
    )?;
    for op in OperationName::ALL {
        writeln!(out, r#"    <wsdl:operation name="{op}">"#)?;
        writeln!(
            out,
            r#"      <soap:operation soapAction="{}" style="document"/>"#,
            op.soap_action()
        )?;
        writeln!(
            out,
            r#"      <wsdl:input><soap:body use="literal"/></wsdl:input>"#
        )?;
        writeln!(
            out,
            r#"      <wsdl:output><soap:body use="literal"/></wsdl:output>"#
        )?;
        writeln!(out, "    </wsdl:operation>")?;
    }
    writeln!(out, "  </wsdl:binding>")?;
    writeln!(out, r#"  <wsdl:service name="{SERVICE}">"#)?;
    writeln!(out, r#"    <wsdl:port name="{PORT}" binding="tns:{PORT}">"#)?;
    writeln!(
        out,
        r#"      <soap:address location="{}"/>"#,
        escape(service_url)
    )?;
    writeln!(out, "    </wsdl:port>")?;
    writeln!(out, "  </wsdl:service>")?;
    writeln!(out, "</wsdl:definitions>")?;
    Ok(())
}

/// A global element with a sequence of required children: the parser refuses a request
/// without any of them, so the schema says so.
fn write_element(out: &mut String, name: &str, fields: &[Field]) -> std::fmt::Result {
    writeln!(out, r#"      <s:element name="{name}">"#)?;
    writeln!(out, "        <s:complexType>")?;
    writeln!(out, "          <s:sequence>")?;
    for field in fields {
        writeln!(
            out,
            r#"            <s:element minOccurs="1" maxOccurs="1" name="{}" type="s:{}"/>"#,
            field.name,
            field.xsd.name()
        )?;
    }
    writeln!(out, "          </s:sequence>")?;
    writeln!(out, "        </s:complexType>")?;
    writeln!(out, "      </s:element>")?;
    Ok(())
}
