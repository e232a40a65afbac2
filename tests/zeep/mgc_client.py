"""Drives MGCWebService.asmx through its WSDL with zeep, a SOAP client no one here wrote.

    mgc_client.py WSDL_URL SERVICE_URL CA_FILE upload TOKEN CHANNEL EXTENSION IN_FILE
    mgc_client.py WSDL_URL SERVICE_URL CA_FILE download TOKEN CHANNEL NAME OUT_FILE

An upload prints the repository name the service chose, then the fault a spent token
draws; a download writes the file. Any other failure ends with a non-zero status.
"""

import sys

import requests
import zeep
from zeep.transports import Transport


def upload(service, token, channel, extension, path):
    with open(path, "rb") as f:
        data = f.read()
    name = service.RequestUniqueFilenameWithExtension(
        token=token, channelId=channel, extension=extension
    )
    max_kb = service.GetMaxFileSizeInKB(token=token, channelId=channel)
    chunk = service.GetMaxRequestContentInKB(token=token, channelId=channel) * 1024
    if len(data) > max_kb * 1024:
        sys.exit(f"the file is larger than the {max_kb} KiB allowed")
    offset = 0
    while True:
        piece = data[offset : offset + chunk]
        stored = service.AppendChunk(
            token=token,
            channelId=channel,
            uniqueFilename=name,
            fileChunk=piece,
            offset=offset,
            fileLength=len(data),
        )
        offset += len(piece)
        if stored != offset:
            sys.exit(f"AppendChunk says {stored} bytes stored, {offset} were sent")
        if offset == len(data):
            break
    print(name)
    try:
        service.GetMaxFileSizeInKB(token=token, channelId=channel)
    except zeep.exceptions.Fault as fault:
        print(f"fault: {fault.message}")
    else:
        sys.exit("a spent token still served")


def download(service, token, channel, name, path):
    size = service.GetFileSize(token=token, channelId=channel, reposFileName=name)
    data = bytearray()
    while len(data) < size:
        chunk = service.DownloadChunk(
            token=token,
            channelId=channel,
            reposFileName=name,
            offset=len(data),
            bufferSize=64 * 1024,
        )
        if not chunk:
            sys.exit(f"DownloadChunk returned nothing at {len(data)} of {size}")
        data += chunk
    with open(path, "wb") as f:
        f.write(data)


def main(wsdl, address, ca_file, mode, token, channel, arg, path):
    session = requests.Session()
    # The server's self-signed certificate is the only authority. Without this, requests
    # lets REQUESTS_CA_BUNDLE (and proxies) from the environment override the session.
    session.trust_env = False
    session.verify = ca_file
    client = zeep.Client(wsdl, transport=Transport(session=session))
    # The WSDL names the service at the server's public URL; the test reaches it on
    # loopback.
    service = client.create_service(
        "{http://www.microsoft.com}MGCWebServiceSoap", address
    )
    if mode == "upload":
        upload(service, token, channel, arg, path)
    else:
        download(service, token, channel, arg, path)


if __name__ == "__main__":
    main(*sys.argv[1:])
